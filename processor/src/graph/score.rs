//! Scoring an interval: its graph's edges become the autoencoder's input columns (`ln(1 + bytes)` scaled by the
//! training maximum), and the score is the mean squared reconstruction residual, each edge's residual measured in
//! units of its own residual spread on the training data (so a well-modelled edge that goes astray counts, and an
//! inherently noisy one does not drown the rest). The per-microservice means say where; edges never seen in
//! training are listed (and, by default, a never-seen communication alarms by itself: [`super::model::UnknownEdgePolicy`]);
//! a communication edge carrying far more than in any training interval alarms by itself too (the volume rule,
//! [`super::model::VolumeThreshold`]).

use hashbrown::{HashMap, HashSet};
use serde::Serialize;
use spanguard_exchange::ExchangeEvent;

use super::autoencoder::Autoencoder;
use super::interval::{GraphBuilder, IntervalGraph, NodeId, Nodes};
use super::model::{EdgeEntry, GraphModel, UnknownEdgePolicy};
use super::roles::is_communication;
use super::runtime::{Reconstructor, RuntimeError};

/// Something that reconstructs rows of autoencoder input: ONNX Runtime in service, the Rust network in training.
pub trait Reconstruct: Send {
    /// Reconstructs `n` rows (row-major).
    fn reconstruct(&mut self, rows: &[f32], n: usize) -> Result<Vec<f32>, RuntimeError>;
}

impl Reconstruct for Reconstructor {
    fn reconstruct(&mut self, rows: &[f32], n: usize) -> Result<Vec<f32>, RuntimeError> {
        self.run(rows, n)
    }
}

impl Reconstruct for Autoencoder {
    fn reconstruct(&mut self, rows: &[f32], n: usize) -> Result<Vec<f32>, RuntimeError> {
        let e = self.arch.edges.max(1);
        Ok(rows
            .chunks(e)
            .take(n)
            .flat_map(|r| Autoencoder::reconstruct(self, r))
            .collect())
    }
}

/// Why a model directory could not be loaded for scoring.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// graph.json.
    #[error(transparent)]
    Model(#[from] super::model::GraphModelError),
    /// The ONNX file or the runtime.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// One microservice's reconstruction error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceError {
    /// Process role.
    pub service: String,
    /// Mean squared standardized residual of its edges.
    pub error: f64,
}

/// One edge that the reconstruction missed most.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EdgeDeviation {
    /// `src->dst`.
    pub edge: String,
    /// Bytes the autoencoder expected.
    pub expected: f64,
    /// Bytes observed.
    pub observed: f64,
}

/// An edge the model never saw in training.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnknownEdge {
    /// Its source node.
    pub src: String,
    /// Its destination node.
    pub dst: String,
    /// A never-seen communication, which flags its interval by itself under the `communication` policy: a
    /// program never seen in its service talking, or a conversation between microservices never held. Not a
    /// file or memory access, nor a known program's internal conversation with its own service.
    pub alarming: bool,
}

impl std::fmt::Display for UnknownEdge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}->{}", self.src, self.dst)
    }
}

/// `"src->dst"`, as every edge is named in `score graph` and incidents.
impl Serialize for UnknownEdge {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl PartialEq<str> for UnknownEdge {
    fn eq(&self, name: &str) -> bool {
        name.strip_prefix(self.src.as_str())
            .and_then(|rest| rest.strip_prefix("->"))
            .is_some_and(|dst| dst == self.dst)
    }
}

impl PartialEq<&str> for UnknownEdge {
    fn eq(&self, name: &&str) -> bool {
        self == *name
    }
}

/// The verdict on one interval, as `score graph` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IntervalScore {
    /// Start, ns since the epoch.
    pub start: u64,
    /// End, ns.
    pub end: u64,
    /// Mean squared reconstruction residual, in units of each edge's normal residual spread.
    pub score: f64,
    /// Threshold.
    pub threshold: f64,
    /// Verdict.
    pub anomalous: bool,
    /// Edges never seen in training, sorted (`"src->dst"` in JSON).
    pub unknown_edges: Vec<UnknownEdge>,
    /// Microservices by reconstruction error, worst first.
    pub services: Vec<ServiceError>,
    /// Edges missed most, worst first.
    pub top_edges: Vec<EdgeDeviation>,
    /// Events aggregated.
    pub events: u64,
    /// The communication edge that carried most beyond its busiest training interval; absent when none did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeExcess>,
}

/// More bytes on a communication edge than in any training interval (the volume rule,
/// [`super::model::VolumeThreshold`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumeExcess {
    /// `src->dst`.
    pub edge: String,
    /// How far above the training maximum, nats ([`volume_excess_nats`]).
    pub excess: f64,
    /// The model's threshold for it; absent in a model without the volume rule.
    pub threshold: Option<f64>,
    /// Bytes in the busiest training interval.
    pub training_max: f64,
    /// Bytes observed.
    pub observed: f64,
}

impl VolumeExcess {
    /// Beyond the model's threshold: the interval is anomalous by the volume rule.
    pub fn over(&self) -> bool {
        self.threshold.is_some_and(|t| self.excess > t)
    }

    /// For people: `frontend/gunicorn->redis 3921153 bytes, at most 10218 in training (×360)`.
    pub fn describe(&self) -> String {
        format!(
            "{} {:.0} bytes, at most {:.0} in training (×{:.0})",
            self.edge,
            self.observed,
            self.training_max,
            self.observed / self.training_max.max(1.0)
        )
    }
}

/// Bytes added to both sides of a volume ratio: below a page, the unit the kernel moves data in, a relative
/// change carries no evidence (an edge of 5 bytes carrying 250 is fifty times busier and means nothing).
pub const VOLUME_PSEUDO_BYTES: f64 = 4096.0;

/// How far `observed` bytes exceed `busiest` bytes, nats: `ln((observed + p) / (busiest + p))`, p =
/// [`VOLUME_PSEUDO_BYTES`]; negative when below.
pub fn volume_excess_nats(observed: f64, busiest: f64) -> f64 {
    ((observed + VOLUME_PSEUDO_BYTES) / (busiest + VOLUME_PSEUDO_BYTES)).ln()
}

/// The largest excess (nats) of a communication edge over its busiest training interval, and the edge, from each
/// column's `bytes`; `None` when no communication edge exceeded it.
pub fn volume_excess(bytes: &[u64], edges: &[EdgeEntry]) -> Option<(usize, f64)> {
    bytes
        .iter()
        .zip(edges)
        .enumerate()
        .filter(|(_, (b, e))| **b as f64 > e.max_bytes() && e.is_communication())
        .map(|(i, (b, e))| (i, volume_excess_nats(*b as f64, e.max_bytes())))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

const TOP: usize = 5;

/// An interval's autoencoder input and what the model does not know about it.
struct Features {
    row: Vec<f32>,
    /// Each column's bytes, uncapped (the row caps a feature at 4, the volume rule must not).
    bytes: Vec<u64>,
    /// The edges never seen in training, sorted.
    unknown: Vec<UnknownEdge>,
    /// Whether one of them is a never-seen communication: neither end a file nor memory, and a conversation of
    /// microservices never seen (a service and a peer that never talked; a service's conversation with itself is
    /// internal), or a program never seen talking.
    new_communication: bool,
}

/// Each edge's residual in units of its normal residual spread, squared.
fn squared_residuals(row: &[f32], rec: &[f32], edges: &[EdgeEntry]) -> Vec<f64> {
    row.iter()
        .zip(rec)
        .zip(edges)
        .map(|((x, y), edge)| (f64::from(x - y) / edge.residual_std).powi(2))
        .collect()
}

/// An interval's score: the mean of [`squared_residuals`] over the vocabulary (0 for an empty one).
pub fn mean_squared_residual(row: &[f32], rec: &[f32], edges: &[EdgeEntry]) -> f64 {
    mean_of(&squared_residuals(row, rec, edges))
}

fn mean_of(sq: &[f64]) -> f64 {
    if sq.is_empty() {
        0.0
    } else {
        sq.iter().sum::<f64>() / sq.len() as f64
    }
}

/// Turns events into scored intervals.
pub struct GraphScorer {
    model: GraphModel,
    builder: GraphBuilder,
    columns: HashMap<(NodeId, NodeId), usize>,
    /// Every node of the vocabulary.
    known_nodes: HashSet<String>,
    /// Every conversation of the vocabulary.
    known_conversations: HashSet<Conversation>,
    reconstructor: Box<dyn Reconstruct>,
}

/// Who talks to whom, at the level of microservices: (the process role, its peer, whether the role sends).
/// Threads are how a process divides its work: the same service talking to the same peer from another thread
/// (the main thread exporting what a worker thread usually exports, after a restart) is the same conversation.
type Conversation = (String, String, bool);

/// The conversation of a communication edge of `service` (one end is a thread of it, the other its peer).
fn conversation(service: &str, src: &str, dst: &str) -> Conversation {
    let of_service = |n: &str| n.strip_prefix(service).is_some_and(|rest| rest.starts_with('/'));
    if of_service(src) {
        (service.to_owned(), dst.to_owned(), true)
    } else {
        (service.to_owned(), src.to_owned(), false)
    }
}

impl GraphScorer {
    /// A scorer for `model`, reconstructing with `reconstructor`.
    pub fn new(model: GraphModel, reconstructor: Box<dyn Reconstruct>) -> Self {
        let mut builder = GraphBuilder::new(model.interval_ns());
        let columns = model
            .edges
            .iter()
            .enumerate()
            .map(|(i, e)| ((builder.nodes.id(&e.src), builder.nodes.id(&e.dst)), i))
            .collect();
        let known_nodes = model
            .edges
            .iter()
            .flat_map(|e| [e.src.clone(), e.dst.clone()])
            .collect();
        let known_conversations = model
            .edges
            .iter()
            .filter(|e| e.is_communication())
            .filter_map(|e| {
                let service = &model.groups.get(e.group)?.service;
                Some(conversation(service, &e.src, &e.dst))
            })
            .collect();
        Self {
            model,
            builder,
            columns,
            known_nodes,
            known_conversations,
            reconstructor,
        }
    }

    /// Loads `dir` (graph.json + its ONNX file) and opens an ONNX Runtime session for it.
    pub fn from_dir(dir: &std::path::Path) -> Result<Self, LoadError> {
        let model = GraphModel::load(dir)?;
        let onnx = model.onnx_path(dir);
        let reconstructor = Reconstructor::load(&onnx, model.edges.len())?;
        Ok(Self::new(model, Box::new(reconstructor)))
    }

    /// The model.
    pub fn model(&self) -> &GraphModel {
        &self.model
    }

    /// Input rows of graphs built by another builder, whose node names are `nodes`.
    pub fn features_built_by(&self, graphs: &[IntervalGraph], nodes: &Nodes) -> Vec<Vec<f32>> {
        graphs.iter().map(|g| self.features_in(g, Some(nodes)).row).collect()
    }

    /// Adds an event; returns the intervals it closed, scored.
    pub fn push(&mut self, e: &ExchangeEvent) -> Result<Vec<IntervalScore>, RuntimeError> {
        let mut closed = Vec::new();
        self.builder.push(e, &mut |g| closed.push(g));
        closed.iter().map(|g| self.score(g)).collect()
    }

    /// Closes and scores the open interval.
    pub fn finish(&mut self) -> Result<Vec<IntervalScore>, RuntimeError> {
        let mut closed = Vec::new();
        self.builder.finish(&mut |g| closed.push(g));
        closed.iter().map(|g| self.score(g)).collect()
    }

    /// Input row of a graph built by this scorer, and its edges the model has never seen.
    pub fn features(&self, g: &IntervalGraph) -> (Vec<f32>, Vec<UnknownEdge>) {
        let f = self.features_in(g, None);
        (f.row, f.unknown)
    }

    /// As [`GraphScorer::features`], for a graph whose node ids are those of `nodes` (another builder's).
    fn features_in(&self, g: &IntervalGraph, nodes: Option<&Nodes>) -> Features {
        let mut row = vec![0.0f32; self.model.edges.len()];
        let mut bytes = vec![0u64; self.model.edges.len()];
        let mut unknown = Vec::new();
        let mut new_communication = false;
        let names = nodes.unwrap_or(&self.builder.nodes);
        for e in &g.edges {
            let (s, d) = (names.name(e.src), names.name(e.dst));
            let key = match nodes {
                None => Some((e.src, e.dst)),
                Some(_) => self.builder.nodes.get(s).zip(self.builder.nodes.get(d)),
            };
            match key.and_then(|k| self.columns.get(&k)) {
                Some(c) => {
                    let max = self.model.edges[*c].max_log_bytes.max(1e-9);
                    // Busier than ever in training shows as > 1 (up to 4): the sigmoid output cannot follow.
                    row[*c] = ((e.bytes as f64).ln_1p() / max).min(4.0) as f32;
                    bytes[*c] = e.bytes;
                }
                None => {
                    let alarming = is_communication(s, d) && {
                        let c = conversation(names.name(e.group), s, d);
                        // A program never seen in the service, talking (a shell, a client tool), or a known one
                        // in a conversation never held.
                        let thread = if c.2 { s } else { d };
                        // A service's peer that is the service itself (a forked child's pipe to its parent,
                        // threads over a socketpair) is internal: new only when the program is new.
                        let internal = c.1 == c.0;
                        !self.known_nodes.contains(thread) || (!internal && !self.known_conversations.contains(&c))
                    };
                    new_communication |= alarming;
                    unknown.push(UnknownEdge {
                        src: s.to_owned(),
                        dst: d.to_owned(),
                        alarming,
                    });
                }
            }
        }
        unknown.sort();
        Features {
            row,
            bytes,
            unknown,
            new_communication,
        }
    }

    /// Scores one closed interval built by this scorer.
    pub fn score(&mut self, g: &IntervalGraph) -> Result<IntervalScore, RuntimeError> {
        self.score_in(g, None)
    }

    /// Scores an interval built by another builder, whose node names are `nodes`.
    pub fn score_built_by(&mut self, g: &IntervalGraph, nodes: &Nodes) -> Result<IntervalScore, RuntimeError> {
        self.score_in(g, Some(nodes))
    }

    fn score_in(&mut self, g: &IntervalGraph, nodes: Option<&Nodes>) -> Result<IntervalScore, RuntimeError> {
        let Features {
            row,
            bytes: raw,
            unknown: unknown_edges,
            new_communication,
        } = self.features_in(g, nodes);
        let e = row.len();
        let rec = if e == 0 {
            Vec::new()
        } else {
            self.reconstructor.reconstruct(&row, 1)?
        };
        let sq = squared_residuals(&row, &rec, &self.model.edges);
        let score = mean_of(&sq);
        let mut services: Vec<ServiceError> = self
            .model
            .groups
            .iter()
            .map(|grp| ServiceError {
                service: grp.service.clone(),
                error: grp.edges.iter().map(|i| sq[*i]).sum::<f64>() / grp.edges.len().max(1) as f64,
            })
            .collect();
        services.sort_by(|a, b| b.error.total_cmp(&a.error));
        let mut order: Vec<usize> = (0..e).collect();
        order.sort_by(|a, b| sq[*b].total_cmp(&sq[*a]));
        let bytes = |x: f32, i: usize| self.model.edges[i].bytes_of(x).max(0.0).round();
        let top_edges = order
            .into_iter()
            .take(TOP)
            .filter(|i| sq[*i] > 0.0)
            .map(|i| EdgeDeviation {
                edge: self.model.edges[i].name(),
                expected: bytes(rec[i], i),
                observed: bytes(row[i], i),
            })
            .collect();
        let threshold = self.model.threshold.value;
        let volume_threshold = self.model.volume.as_ref().map(|v| v.value);
        let volume = volume_excess(&raw, &self.model.edges).map(|(i, excess)| VolumeExcess {
            edge: self.model.edges[i].name(),
            excess,
            threshold: volume_threshold,
            training_max: self.model.edges[i].max_bytes().round(),
            observed: raw[i] as f64,
        });
        let too_much = volume.as_ref().is_some_and(VolumeExcess::over);
        let alert_unknown = match self.model.unknown_edge_policy {
            UnknownEdgePolicy::Alert => !unknown_edges.is_empty(),
            UnknownEdgePolicy::Communication => new_communication,
            UnknownEdgePolicy::Ignore => false,
        };
        Ok(IntervalScore {
            start: g.start_ns,
            end: g.end_ns,
            score,
            threshold,
            anomalous: score > threshold || alert_unknown || too_much,
            unknown_edges,
            services,
            top_edges,
            events: g.events,
            volume,
        })
    }

    /// Scores every interval of `events`.
    pub fn score_all(&mut self, events: &[ExchangeEvent]) -> Result<Vec<IntervalScore>, RuntimeError> {
        let mut out = Vec::new();
        for e in events {
            out.extend(self.push(e)?);
        }
        out.extend(self.finish()?);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use spanguard_exchange::{Op, Target};

    use super::*;
    use crate::graph::autoencoder::TrainSettings;
    use crate::graph::train::{train_graph, GraphTrainOptions};

    const S: u64 = 1_000_000_000;

    fn ev(ts: u64, svc: &str, pid: u32, comm: &str, op: Op, bytes: u64, target: Target) -> ExchangeEvent {
        ExchangeEvent {
            ts,
            host: "h".into(),
            container: None,
            service: Some(svc.into()),
            pid,
            tid: pid,
            exe: "/usr/bin/python3".into(),
            exe_hash: None,
            comm: comm.into(),
            op,
            bytes,
            count: 1,
            target,
            source: None,
        }
    }

    fn tcp(local: &str, remote: &str) -> Target {
        Target::Socket {
            proto: "tcp".into(),
            local: local.into(),
            remote: remote.into(),
        }
    }

    /// One second of a frontend asking redis, and reading its configuration.
    fn second(t: u64, k: u64, frontend_thread: &str) -> Vec<ExchangeEvent> {
        let client = format!("127.0.0.1:{}", 40_000 + k % 1000);
        let bytes = 200 + (k * 37) % 100;
        vec![
            ev(
                t * S,
                "frontend",
                10,
                frontend_thread,
                Op::Send,
                bytes,
                tcp(&client, "127.0.0.1:6379"),
            ),
            ev(
                t * S + 1,
                "redis",
                20,
                "redis-server",
                Op::Recv,
                bytes,
                tcp("127.0.0.1:6379", &client),
            ),
            ev(
                t * S + 2,
                "redis",
                20,
                "redis-server",
                Op::Send,
                2 * bytes,
                tcp("127.0.0.1:6379", &client),
            ),
            ev(
                t * S + 3,
                "frontend",
                10,
                frontend_thread,
                Op::Recv,
                2 * bytes,
                tcp(&client, "127.0.0.1:6379"),
            ),
            ev(
                t * S + 4,
                "frontend",
                10,
                "main",
                Op::Read,
                64,
                Target::File {
                    path: "/srv/app/settings.conf".into(),
                },
            ),
            // A third service that talks to nobody here: a known program of a service redis never talked to.
            ev(
                t * S + 5,
                "auth",
                30,
                "worker",
                Op::Read,
                32,
                Target::File {
                    path: "/srv/auth/keys".into(),
                },
            ),
        ]
    }

    fn trained() -> GraphScorer {
        let t = trained_parts();
        GraphScorer::new(t.model, Box::new(t.autoencoder))
    }

    fn trained_parts() -> crate::graph::train::Trained {
        let normal: Vec<ExchangeEvent> = (0..60).flat_map(|t| second(t, t, "worker")).collect();
        let opts = GraphTrainOptions {
            interval_ns: S,
            autoencoder: TrainSettings {
                epochs: 200,
                ..TrainSettings::default()
            },
            ..GraphTrainOptions::default()
        };
        train_graph(&normal, None, &opts, |_, _, _| {}).expect("trains")
    }

    fn verdict(scorer: &mut GraphScorer, extra: Vec<ExchangeEvent>, thread: &str) -> IntervalScore {
        let mut events = second(100, 7, thread);
        events.extend(extra);
        events.sort_by_key(|e| e.ts);
        let mut out = scorer.score_all(&events).expect("scores");
        out.remove(0)
    }

    #[test]
    fn never_seen_communication_alarms_never_seen_file_access_is_reported() {
        let mut scorer = trained();
        assert_eq!(scorer.model().unknown_edge_policy, UnknownEdgePolicy::Communication);
        let normal = verdict(&mut scorer, Vec::new(), "worker");
        assert!(normal.unknown_edges.is_empty() && !normal.anomalous, "{normal:?}");

        // A file never read before: reported, not an alarm by itself.
        let file = Target::File {
            path: "/usr/share/zoneinfo/UTC".into(),
        };
        let v = verdict(
            &mut scorer,
            vec![ev(100 * S + 9, "frontend", 10, "worker", Op::Read, 60, file)],
            "worker",
        );
        assert_eq!(v.unknown_edges, ["file:/usr/share/zoneinfo/UTC->frontend/worker"]);
        assert!(!v.anomalous || v.score > v.threshold, "{v:?}");

        // A known conversation (the frontend with redis) held by another known thread: reported, not an alarm.
        let redis = tcp("127.0.0.1:41000", "127.0.0.1:6379");
        let v = verdict(
            &mut scorer,
            vec![ev(100 * S + 9, "frontend", 10, "main", Op::Send, 250, redis)],
            "worker",
        );
        assert!(
            v.unknown_edges
                .iter()
                .any(|e| e == "frontend/main->redis" && !e.alarming),
            "{v:?}"
        );
        assert!(!v.anomalous || v.score > v.threshold, "{v:?}");

        // A thread never seen in the frontend talking to redis: a new program, talking.
        let v = verdict(&mut scorer, Vec::new(), "exporter");
        assert!(
            v.unknown_edges
                .iter()
                .any(|e| e == "frontend/exporter->redis" && e.alarming),
            "{v:?}"
        );
        assert!(
            v.anomalous,
            "a program never seen in the service, talking, alarms: {v:?}"
        );

        // A known program talking to its own service (a forked child's pipe to its parent, as redis's snapshot
        // child reports to the server): internal, reported, not an alarm by itself.
        let pipe = || Target::Pipe { id: "9".into() };
        let v = verdict(
            &mut scorer,
            vec![
                ev(100 * S + 9, "redis", 21, "redis-server", Op::Write, 40, pipe()),
                ev(100 * S + 10, "redis", 20, "redis-server", Op::Read, 40, pipe()),
            ],
            "worker",
        );
        assert!(
            v.unknown_edges
                .iter()
                .any(|e| e == "redis/redis-server->redis" && !e.alarming),
            "{v:?}"
        );
        assert!(!v.anomalous || v.score > v.threshold, "{v:?}");

        // The same pipe to a known program of a service redis never talked to is a conversation never held.
        let v = verdict(
            &mut scorer,
            vec![
                ev(100 * S + 9, "redis", 21, "redis-server", Op::Write, 40, pipe()),
                ev(100 * S + 10, "auth", 30, "worker", Op::Read, 40, pipe()),
            ],
            "worker",
        );
        assert!(
            v.unknown_edges
                .iter()
                .any(|e| e == "redis/redis-server->auth" && e.alarming),
            "{v:?}"
        );
        assert!(v.anomalous, "{v:?}");

        // The frontend reaching a peer it never talked to.
        let v = verdict(
            &mut scorer,
            vec![ev(
                100 * S + 9,
                "frontend",
                10,
                "worker",
                Op::Send,
                90,
                tcp("127.0.0.1:45000", "10.9.9.9:4444"),
            )],
            "worker",
        );
        assert!(
            v.unknown_edges.iter().any(|e| e == "frontend/worker->net:tcp:4444"),
            "{v:?}"
        );
        assert!(v.anomalous, "{v:?}");
    }

    #[test]
    fn more_data_than_ever_on_a_conversation_alarms_by_itself() {
        let t = trained_parts();
        assert!(t.model.volume.is_some(), "the volume rule is calibrated");
        // The reconstruction alone never alarms here: the volume rule must, by itself.
        let mut model = t.model.clone();
        model.threshold.value = f64::INFINITY;
        let mut scorer = GraphScorer::new(model.clone(), Box::new(t.autoencoder.clone()));
        let reply = |bytes| {
            vec![ev(
                100 * S + 9,
                "redis",
                20,
                "redis-server",
                Op::Send,
                bytes,
                tcp("127.0.0.1:6379", "127.0.0.1:40007"),
            )]
        };
        // Twice the usual replies: more than ever, but a few hundred bytes carry no evidence.
        let v = verdict(&mut scorer, reply(600), "worker");
        assert!(v.volume.as_ref().is_some_and(|x| !x.over()), "{v:?}");
        // A dump: megabytes where a few hundred bytes went.
        let v = verdict(&mut scorer, reply(5_000_000), "worker");
        let x = v.volume.as_ref().expect("an excess");
        assert!(x.over() && v.anomalous, "{v:?}");
        assert_eq!(x.edge, "redis/redis-server->frontend");
        assert!(x.observed > 5_000_000.0 && x.training_max < 1_000.0, "{x:?}");
        assert!(
            x.describe().starts_with("redis/redis-server->frontend 5000") && x.describe().contains(" bytes, at most "),
            "{}",
            x.describe()
        );

        // A model without the volume rule (trained before it) judges by the reconstruction alone, as it did.
        model.volume = None;
        let mut old = GraphScorer::new(model, Box::new(t.autoencoder));
        let v = verdict(&mut old, reply(5_000_000), "worker");
        assert!(v.volume.as_ref().is_some_and(|x| !x.over()) && !v.anomalous, "{v:?}");
    }
}
