//! Traces shaped like the DeathStarBench social network of the paper (Jacob, Qiao, Lee, ICISSP 2021, §4.2.2):
//!
//! - **composePost**: 27 distinct operations over 11 services. Uploads run concurrently, so their order varies;
//!   media, URLs and mentions are optional; caches hit or miss; the compose step hangs under whichever upload
//!   completed last — the sources of the paper's "1308 different microservice call sequences".
//! - **userLogin**: exactly the three sequences of §4.2.2: `Login → MmcGetLogin` (credentials cached: a correct
//!   or an incorrect password), `Login → MmcGetLogin → MongoFindUser` (not cached, wrong password: nothing is
//!   cached) and `Login → MmcGetLogin → MongoFindUser → MmcSetLogin` (not cached, right password: cached now).
//!
//! [`paper_sets`] builds the paper's three data sets: Table 1 (normal, 1526/420/54), the validation set
//! (300/165/35 in 10 windows of 50) and Table 2 (the password-guessing attack window, 30/7/13).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;

use super::rng::Rng;
use super::spans::TraceBuilder;

/// The request types of the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A user composes a post.
    ComposePost,
    /// A login with the right password.
    CorrectLogin,
    /// A login with a wrong password.
    IncorrectLogin,
}

/// Knobs of the generator; the defaults are calibrated so that 1856 composePost traces hold about as many
/// distinct sequences as the paper saw (1308).
#[derive(Debug, Clone)]
pub struct SocialNetwork {
    /// Probability that a user's credentials are in memcached when they log in.
    pub login_cache_hit: f64,
    /// Probability that a group of concurrent calls starts in its usual order.
    pub usual_order: f64,
    /// Probability that a post has URLs.
    pub urls: f64,
    /// Probability that a post mentions users.
    pub mentions: f64,
    /// Probability that mentioned users miss memcached.
    pub mention_miss: f64,
    /// Probability that a post carries media (then one or two items).
    pub media: f64,
    /// Probability that the author's timeline must first be looked up in MongoDB.
    pub timeline_miss: f64,
}

impl Default for SocialNetwork {
    fn default() -> Self {
        Self {
            login_cache_hit: 0.3,
            usual_order: 0.35,
            urls: 0.5,
            mentions: 0.5,
            mention_miss: 0.3,
            media: 0.4,
            timeline_miss: 0.2,
        }
    }
}

/// The paper's three data sets, one `ExportTraceServiceRequest` per trace, in (shuffled) trace order.
pub struct PaperSets {
    /// Table 1: 1526 composePost, 420 correct and 54 incorrect logins.
    pub normal: Vec<ExportTraceServiceRequest>,
    /// 300 composePost, 165 correct and 35 incorrect logins (10 windows of 50).
    pub validation: Vec<ExportTraceServiceRequest>,
    /// Table 2: 30 composePost, 7 correct and 13 incorrect logins (one window).
    pub attack: Vec<ExportTraceServiceRequest>,
}

/// One of the paper's data sets (`generate socialnet --set`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PaperSet {
    /// Table 1: 1526 composePost, 420 correct and 54 incorrect logins.
    Normal,
    /// The validation set: 300 composePost, 165 correct and 35 incorrect logins.
    Validation,
    /// Table 2: 30 composePost, 7 correct and 13 incorrect logins.
    Attack,
}

impl PaperSet {
    /// Its traces of each kind.
    pub fn mix(self) -> [(Kind, usize); 3] {
        let (compose, correct, incorrect) = match self {
            PaperSet::Normal => (1526, 420, 54),
            PaperSet::Validation => (300, 165, 35),
            PaperSet::Attack => (30, 7, 13),
        };
        [
            (Kind::ComposePost, compose),
            (Kind::CorrectLogin, correct),
            (Kind::IncorrectLogin, incorrect),
        ]
    }
}

/// Builds the paper's data sets from `seed`.
pub fn paper_sets(seed: u64) -> PaperSets {
    let g = SocialNetwork::default();
    let mut rng = Rng::new(seed);
    let t0 = 1_700_000_000_000_000_000;
    PaperSets {
        normal: g.dataset(&PaperSet::Normal.mix(), &mut rng, t0),
        validation: g.dataset(&PaperSet::Validation.mix(), &mut rng, t0 + 3_600_000_000_000),
        attack: g.dataset(&PaperSet::Attack.mix(), &mut rng, t0 + 7_200_000_000_000),
    }
}

const MS: u64 = 1_000_000;

impl SocialNetwork {
    /// `counts` traces of each kind, shuffled, starting at `t0` (one trace every 20 ms).
    pub fn dataset(&self, counts: &[(Kind, usize)], rng: &mut Rng, t0: u64) -> Vec<ExportTraceServiceRequest> {
        let mut kinds: Vec<Kind> = counts.iter().flat_map(|(k, n)| std::iter::repeat_n(*k, *n)).collect();
        rng.shuffle(&mut kinds);
        kinds
            .iter()
            .enumerate()
            .map(|(i, k)| self.trace(*k, rng, t0 + i as u64 * 20 * MS).build(rng))
            .collect()
    }

    /// One trace of `kind` starting at `t0`.
    pub fn trace(&self, kind: Kind, rng: &mut Rng, t0: u64) -> TraceBuilder {
        match kind {
            Kind::ComposePost => self.compose_post(rng, t0),
            Kind::CorrectLogin => self.login(rng, t0, true),
            Kind::IncorrectLogin => self.login(rng, t0, false),
        }
    }

    fn login(&self, rng: &mut Rng, t0: u64, correct: bool) -> TraceBuilder {
        let mut t = TraceBuilder::default();
        let root = t.call("user-service", "Login", None, t0, 8 * MS);
        t.attr(root, "http.route", Value::StringValue("/wrk2-api/user/login".into()));
        t.call("user-service", "MmcGetLogin", Some(root), t0 + MS / 2, MS);
        let cached = rng.chance(self.login_cache_hit);
        if !cached {
            t.call("user-service", "MongoFindUser", Some(root), t0 + 2 * MS, 3 * MS);
            if correct {
                t.call("user-service", "MmcSetLogin", Some(root), t0 + 6 * MS, MS);
            }
        }
        t.attr(
            root,
            "http.status_code",
            Value::IntValue(if correct { 200 } else { 401 }),
        );
        t
    }

    /// Gives `n` concurrent siblings start offsets: usually in their usual order, otherwise shuffled.
    fn starts(&self, rng: &mut Rng, n: usize, t0: u64) -> Vec<u64> {
        let mut order: Vec<usize> = (0..n).collect();
        if !rng.chance(self.usual_order) {
            rng.shuffle(&mut order);
        }
        let mut starts = vec![0; n];
        for (rank, i) in order.into_iter().enumerate() {
            starts[i] = t0 + (rank as u64 + 1) * 100_000 + rng.below(50_000);
        }
        starts
    }

    fn compose_post(&self, rng: &mut Rng, t0: u64) -> TraceBuilder {
        let mut t = TraceBuilder::default();
        let root = t.call("nginx-web-server", "compose_post", None, t0, 30 * MS);
        t.attr(root, "http.route", Value::StringValue("/wrk2-api/post/compose".into()));

        let media_items = if rng.chance(self.media) {
            1 + rng.below(2) as usize
        } else {
            0
        };
        let uploads = 3 + media_items;
        let starts = self.starts(rng, uploads, t0);
        // (compose-post-service span of each upload, its end): the compose step hangs under the last one.
        let mut compose_parts: Vec<(usize, u64)> = Vec::new();

        let s = starts[0];
        let a = t.call("unique-id-service", "UploadUniqueId", Some(root), s, 2 * MS);
        let end = s + MS + rng.below(3 * MS);
        compose_parts.push((
            t.call(
                "compose-post-service",
                "UploadUniqueId",
                Some(a),
                s + MS / 2,
                end - s - MS / 2,
            ),
            end,
        ));

        let s = starts[1];
        let b = t.call("user-service", "UploadCreatorWithUserId", Some(root), s, 3 * MS);
        let end = s + MS + rng.below(3 * MS);
        compose_parts.push((
            t.call(
                "compose-post-service",
                "UploadCreator",
                Some(b),
                s + MS / 2,
                end - s - MS / 2,
            ),
            end,
        ));

        let s = starts[2];
        let text = t.call("text-service", "UploadText", Some(root), s, 6 * MS);
        let has_urls = rng.chance(self.urls);
        let has_mentions = rng.chance(self.mentions);
        let parts = 1 + usize::from(has_urls) + usize::from(has_mentions);
        let tstarts = self.starts(rng, parts, s);
        let mut k = 0;
        if has_urls {
            let u = t.call("url-shorten-service", "UploadUrls", Some(text), tstarts[k], 2 * MS);
            t.call(
                "url-shorten-service",
                "MongoInsertUrls",
                Some(u),
                tstarts[k] + MS / 4,
                MS,
            );
            t.call(
                "compose-post-service",
                "UploadUrls",
                Some(u),
                tstarts[k] + 3 * MS / 2,
                MS / 4,
            );
            k += 1;
        }
        if has_mentions {
            let m = t.call(
                "user-mention-service",
                "UploadUserMentions",
                Some(text),
                tstarts[k],
                3 * MS,
            );
            t.call(
                "user-mention-service",
                "MmcGetUsers",
                Some(m),
                tstarts[k] + MS / 4,
                MS / 2,
            );
            if rng.chance(self.mention_miss) {
                t.call("user-mention-service", "MongoFindUsers", Some(m), tstarts[k] + MS, MS);
            }
            t.call(
                "compose-post-service",
                "UploadUserMentions",
                Some(m),
                tstarts[k] + 5 * MS / 2,
                MS / 4,
            );
            k += 1;
        }
        let end = tstarts[k] + MS + rng.below(4 * MS);
        compose_parts.push((
            t.call(
                "compose-post-service",
                "UploadText",
                Some(text),
                tstarts[k],
                end - tstarts[k],
            ),
            end,
        ));

        for starts_i in starts.iter().skip(3) {
            let s = *starts_i;
            let m = t.call("media-service", "UploadMedia", Some(root), s, 2 * MS);
            let end = s + MS + rng.below(3 * MS);
            compose_parts.push((
                t.call(
                    "compose-post-service",
                    "UploadMedia",
                    Some(m),
                    s + MS / 2,
                    end - s - MS / 2,
                ),
                end,
            ));
        }

        // compose-post-service assembles the post when the last part arrives, under that part's span.
        let (last, at) = compose_parts
            .iter()
            .copied()
            .max_by_key(|(_, end)| *end)
            .unwrap_or((root, t0));
        let c = t.call("compose-post-service", "ComposeAndUpload", Some(last), at, 10 * MS);
        let cs = self.starts(rng, 3, at);
        let p = t.call("post-storage-service", "StorePost", Some(c), cs[0], 4 * MS);
        t.call(
            "post-storage-service",
            "MongoInsertPost",
            Some(p),
            cs[0] + MS / 4,
            2 * MS,
        );
        t.call("post-storage-service", "MmcSetPost", Some(p), cs[0] + 3 * MS, MS / 2);
        let u = t.call("user-timeline-service", "WriteUserTimeline", Some(c), cs[1], 4 * MS);
        let mut us = cs[1] + MS / 4;
        if rng.chance(self.timeline_miss) {
            t.call("user-timeline-service", "MongoFindUser", Some(u), us, MS);
            us += MS + MS / 4;
        }
        t.call("user-timeline-service", "MongoInsert", Some(u), us, MS);
        t.call(
            "user-timeline-service",
            "RedisUpdate",
            Some(u),
            us + MS + MS / 4,
            MS / 2,
        );
        let h = t.call("home-timeline-service", "WriteHomeTimeline", Some(c), cs[2], 4 * MS);
        t.call("social-graph-service", "GetFollowers", Some(h), cs[2] + MS / 4, MS);
        t.call("home-timeline-service", "RedisUpdate", Some(h), cs[2] + 3 * MS / 2, MS);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn ops(t: &TraceBuilder) -> Vec<(&'static str, &'static str)> {
        t.calls.iter().map(|c| (c.service, c.name)).collect()
    }

    #[test]
    fn login_has_exactly_the_three_sequences_of_the_paper() {
        let g = SocialNetwork::default();
        let mut rng = Rng::new(1);
        let mut seen = HashSet::new();
        for i in 0..2000 {
            let kind = if i % 2 == 0 {
                Kind::CorrectLogin
            } else {
                Kind::IncorrectLogin
            };
            let names: Vec<&str> = g.trace(kind, &mut rng, 0).calls.iter().map(|c| c.name).collect();
            seen.insert((kind, names.join(" -> ")));
        }
        let mut got: Vec<_> = seen.into_iter().collect();
        got.sort_by(|a, b| a.1.cmp(&b.1).then((a.0 as u8).cmp(&(b.0 as u8))));
        let expect = [
            (Kind::CorrectLogin, "Login -> MmcGetLogin"),
            (Kind::IncorrectLogin, "Login -> MmcGetLogin"),
            (Kind::IncorrectLogin, "Login -> MmcGetLogin -> MongoFindUser"),
            (
                Kind::CorrectLogin,
                "Login -> MmcGetLogin -> MongoFindUser -> MmcSetLogin",
            ),
        ];
        assert_eq!(got.iter().map(|(k, s)| (*k, s.as_str())).collect::<Vec<_>>(), expect);
    }

    #[test]
    fn compose_post_uses_27_operations() {
        let g = SocialNetwork::default();
        let mut rng = Rng::new(2);
        let mut all = HashSet::new();
        for _ in 0..500 {
            all.extend(ops(&g.trace(Kind::ComposePost, &mut rng, 0)));
        }
        assert_eq!(all.len(), 27, "{all:?}");
    }

    #[test]
    fn paper_sets_have_the_tables_counts() {
        let sets = paper_sets(7);
        assert_eq!(
            (sets.normal.len(), sets.validation.len(), sets.attack.len()),
            (2000, 500, 50)
        );
        let logins = |reqs: &[ExportTraceServiceRequest], code: i64| {
            reqs.iter()
                .filter(|r| {
                    r.resource_spans
                        .iter()
                        .flat_map(|rs| &rs.scope_spans)
                        .flat_map(|ss| &ss.spans)
                        .any(|s| {
                            s.name == "Login"
                                && s.attributes.iter().any(|kv| {
                                    kv.key == "http.status_code"
                                        && kv.value.as_ref().and_then(|v| v.value.as_ref())
                                            == Some(&Value::IntValue(code))
                                })
                        })
                })
                .count()
        };
        assert_eq!((logins(&sets.normal, 200), logins(&sets.normal, 401)), (420, 54));
        assert_eq!(
            (logins(&sets.validation, 200), logins(&sets.validation, 401)),
            (165, 35)
        );
        assert_eq!((logins(&sets.attack, 200), logins(&sets.attack, 401)), (7, 13));
    }
}
