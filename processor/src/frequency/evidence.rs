//! The evidence in one window against a reference mix (the default method; `--paper` keeps eq. 3).
//!
//! Three questions, each a test calibrated by the sampling noise of a window of `n` traces drawn from the
//! reference (multinomial, overdispersed by the measured [`Dispersion`]), not by the spread of a few validation
//! distances (which mixes drift between windows with noise within them):
//!
//! 1. **Is any sequence more frequent than the reference allows?** For sequence `s` seen `c` times, with the
//!    reference of `N` traces holding `R = N·r` of it, the two-sample conditional test: under "same rate", `c`
//!    is `Binomial(c + R, n/(n + N))`, so `p = P(X ≥ c)` (exact for small counts; with counts divided by the
//!    dispersion factor). Many sequences are tested, so the level is split Bonferroni-style over a family the
//!    reference fixes before the window is looked at: the sequences it holds enough of to be tested on their
//!    own (point 2 takes the others), plus the rare class's two tests.
//! 2. **Is a never-seen or rare path evidence?** Sequences the reference holds fewer than three traces of in its
//!    steady state — never seen, or seen so rarely that their share is noise — cannot be tested one by one (the window itself
//!    picked them out of countless possible ones, and their estimated shares are mostly zero or luck), so they
//!    are tested as a class, with what normal traffic says about that class ([`Unseen`]): the share `q` of
//!    normal traces in it (for never-seen sequences, Good–Turing's unseen mass), and the rate `p_u` of a typical
//!    sequence of it: `S₂/q` with `S₂ = Σ p²` measured as repeats of one such sequence within normal windows
//!    (winsorized per window, like the dispersion: one clumpy window must not blind the test), never below
//!    `1/N_long` (a sequence that `N_long` normal traces hardly showed has `p ≲ 1/N_long`). With at most `q/p_u`
//!    such sequences at rate `p_u`, some sequence of the class appearing `c` times has probability at most
//!    `(q/p_u)·P(Binomial(n, p_u) ≥ c)` (a union bound), and `m` traces of the class at all
//!    `P(Binomial(n, q) ≥ m)` (counts divided by `φ` in both). In traffic where new paths are rare
//!    (OnlineBoutique), five copies of one are overwhelming evidence; where nearly every trace is unique (the
//!    social network's concurrent uploads), two or three copies are not.
//! 3. **Did the mix as a whole move?** Pearson's statistic over the reference's frequent sequences (rarer ones
//!    pooled) against `φ·(1 + n/N)·χ²_df` — the same pooled chi distance the detector reports, with a threshold
//!    that follows the reference as it moves.
//! 4. **Is the departure additive?** Attack traffic is *added* to normal traffic: credential stuffing, scraping,
//!    a forged call path all make `w = (1 − f)·reference + f·attack`, so once the surging sequences are set
//!    aside, the rest of the window still matches the reference (scaled). A workload change *re-mixes*: common
//!    sequences vanish or shrink unevenly. The remainder is tested like the whole (Pearson, and the largest
//!    deficit); a departure whose remainder still matches is a **surge** (an alarm), one whose remainder does
//!    not is a **re-mix** (a candidate regime change, see [`super::regime`]).

use super::noise::Dispersion;
use super::sequence::SeqId;
use super::stats::{binomial_lower, binomial_upper, chi2_sf};

/// A mix of sequences to compare windows with: the adaptive baseline, a pending regime, a past one.
pub trait Reference {
    /// Share of `seq` (0 if the mix never held it).
    fn share(&self, seq: SeqId) -> f64;
    /// Traces the shares are estimated from (the reference's own sampling noise).
    fn size(&self) -> f64;
    /// Every sequence with a share of at least `min_share`, with its share.
    fn frequent(&self, min_share: f64, f: &mut dyn FnMut(SeqId, f64));
    /// The total share of the sequences rarer than `below`.
    fn mass_below(&self, below: f64) -> f64;
    /// How many sequences have a share of at least `share`.
    fn count_at_least(&self, share: f64) -> usize;
}

/// A mix held as sorted `(sequence, share)` pairs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mix {
    shares: Vec<(SeqId, f64)>,
    size: f64,
}

impl Mix {
    /// The mix of sorted `(sequence, count)` pairs.
    pub fn of_counts(counts: &[(SeqId, u32)]) -> Self {
        let total: f64 = counts.iter().map(|(_, c)| f64::from(*c)).sum();
        Self {
            shares: counts
                .iter()
                .map(|(s, c)| (*s, f64::from(*c) / total.max(1.0)))
                .collect(),
            size: total,
        }
    }

    /// A mix of sorted `(sequence, share)` pairs estimated from `size` traces.
    pub fn of_shares(shares: Vec<(SeqId, f64)>, size: f64) -> Self {
        Self { shares, size }
    }

    /// The `(sequence, share)` pairs, sorted by sequence.
    pub fn shares(&self) -> &[(SeqId, f64)] {
        &self.shares
    }
}

impl Reference for Mix {
    fn share(&self, seq: SeqId) -> f64 {
        self.shares
            .binary_search_by_key(&seq, |(s, _)| *s)
            .map_or(0.0, |i| self.shares[i].1)
    }
    fn size(&self) -> f64 {
        self.size
    }
    fn frequent(&self, min_share: f64, f: &mut dyn FnMut(SeqId, f64)) {
        for (s, r) in &self.shares {
            if *r >= min_share {
                f(*s, *r);
            }
        }
    }
    fn mass_below(&self, below: f64) -> f64 {
        self.shares.iter().filter(|(_, r)| *r < below).map(|(_, r)| r).sum()
    }
    fn count_at_least(&self, share: f64) -> usize {
        self.shares.iter().filter(|(_, r)| *r >= share).count()
    }
}

/// A reference with some sequences set aside — and, when `rare_below` is set, the whole rare class with them —
/// and the rest renormalized (the remainder of a surge).
struct Without<'a> {
    inner: &'a dyn Reference,
    excluded: &'a [SeqId],
    rare_below: Option<f64>,
    rest: f64,
}

impl Without<'_> {
    fn kept(&self, seq: SeqId, share: f64) -> bool {
        !self.excluded.contains(&seq) && self.rare_below.is_none_or(|floor| share >= floor)
    }
}

impl Reference for Without<'_> {
    fn share(&self, seq: SeqId) -> f64 {
        let r = self.inner.share(seq);
        if self.kept(seq, r) {
            r / self.rest
        } else {
            0.0
        }
    }
    fn size(&self) -> f64 {
        self.inner.size() * self.rest
    }
    fn frequent(&self, min_share: f64, f: &mut dyn FnMut(SeqId, f64)) {
        let rest = self.rest;
        self.inner.frequent(min_share * rest, &mut |s, r| {
            if self.kept(s, r) {
                f(s, r / rest);
            }
        });
    }
    fn mass_below(&self, below: f64) -> f64 {
        // Only asked of the references the tests are made against.
        self.inner.mass_below(below * self.rest) / self.rest
    }
    fn count_at_least(&self, share: f64) -> usize {
        self.inner.count_at_least(share * self.rest)
    }
}

/// The settings of the tests.
#[derive(Debug, Clone, Copy)]
pub struct Levels {
    /// Per-window level of the surge tests and of the global test (the nominal false-alarm rate).
    pub alpha: f64,
    /// Level at which a departure's remainder is judged not to match (a re-mix rather than a surge).
    pub remix_alpha: f64,
    /// Cells rarer than this share are pooled in the Pearson tests (half a trace per model window).
    pub pool_below: f64,
    /// Sequences rarer than this share are judged as a class (less than one trace of the reference in its
    /// steady state).
    pub rare_below: f64,
}

impl Levels {
    /// A sequence of this share is judged as part of the rare class.
    #[inline]
    pub fn rare(&self, share: f64) -> bool {
        share < self.rare_below
    }
}

/// Where the window's sequences come from, beyond the reference: which ones were ever seen in normal traffic,
/// and what normal traffic says about sequences never seen before.
pub trait History {
    /// `seq` appeared in normal (learned or accepted) traffic at some point.
    fn seen(&self, seq: SeqId) -> bool;
    /// Never-seen sequences in normal traffic.
    fn unseen(&self) -> Unseen;
}

/// What normal traffic says about the rare class: sequences below [`Levels::rare_below`] (never seen, or
/// nearly so).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Unseen {
    /// Share of normal traces whose sequence was in that class when they came.
    pub rate: f64,
    /// The rate of a typical sequence of the class (`Σ p² / Σ p`).
    pub typical: f64,
}

/// One sequence tested for a surge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Surge {
    /// The sequence.
    pub seq: SeqId,
    /// Traces of it in the window.
    pub count: u32,
    /// Traces of it the reference expects (`n·share`).
    pub expected: f64,
    /// Upper-tail p-value (not yet adjusted for the number of tests).
    pub p: f64,
    /// Never seen in any normal traffic.
    pub novel: bool,
}

/// What the window is, against the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Within the reference's noise.
    Normal,
    /// Some sequences are more frequent than allowed and the rest still matches: traffic added to normal.
    Surge,
    /// The mix moved as a whole (or unevenly): a candidate regime change, not an alarm by itself.
    Remix,
}

/// The verdict of [`assess`].
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// What the window is.
    pub kind: Kind,
    /// The significant surges, most significant first.
    pub surges: Vec<Surge>,
    /// The strongest surge test, significant or not.
    pub best: Option<Surge>,
    /// Tests the level is split over (the family fixed by the reference).
    pub tested: usize,
    /// Pearson statistic of the whole window and the χ² it is compared with.
    pub pearson: Pearson,
    /// Its p-value against the calibrated noise.
    pub p_global: f64,
}

impl Assessment {
    /// A significant surge is a sequence never seen in normal traffic.
    pub fn novel(&self) -> bool {
        self.surges.iter().any(|s| s.novel)
    }

    /// The strongest surge's p-value adjusted for the family (Bonferroni; 1 = no evidence): what the alarm is
    /// decided on.
    pub fn adjusted_p(&self) -> f64 {
        self.best.map_or(1.0, |b| (b.p * self.tested.max(1) as f64).min(1.0))
    }
}

/// Tests a window (sorted `(sequence, count)` pairs over `n` traces) against `reference`.
pub fn assess(
    counts: &[(SeqId, u32)],
    n: usize,
    reference: &dyn Reference,
    history: &dyn History,
    noise: Dispersion,
    levels: Levels,
) -> Assessment {
    let nf = n as f64;
    let mut tests: Vec<Surge> = Vec::with_capacity(counts.len());
    let (mut rare_traces, mut most_repeated) = (0u32, None::<(SeqId, u32)>);
    let size = reference.size();
    for (seq, c) in counts {
        let r = reference.share(*seq);
        if levels.rare(r) {
            rare_traces += c;
            // The most repeated, a never-seen one first among equals.
            let novel = !history.seen(*seq);
            let better = most_repeated.is_none_or(|(s, m)| *c > m || (*c == m && novel && history.seen(s)));
            if better {
                most_repeated = Some((*seq, *c));
            }
            continue;
        }
        let pi = nf / (nf + size.max(1.0));
        let expected = nf * r;
        let d = noise.factor(expected);
        let (k, total) = (f64::from(*c) / d, (f64::from(*c) + size * r) / d);
        // At or below its expectation a sequence is no surge: skip the tail.
        let p = if k <= total * pi {
            1.0
        } else {
            binomial_upper(k, total, pi)
        };
        tests.push(Surge {
            seq: *seq,
            count: *c,
            expected,
            p,
            novel: false,
        });
    }
    if let Some((seq, c)) = most_repeated {
        // The rare class: one sequence repeated, and the class's traces in all (each test family-wise).
        let u = history.unseen();
        let novel = !history.seen(seq);
        let d = noise.phi;
        let (rate, typical) = (u.rate.clamp(1e-12, 1.0), u.typical.clamp(1e-12, 1.0));
        let (ce, ne) = (f64::from(c) / d, nf / d);
        let repeated = if c >= 2 {
            (rate / typical * binomial_upper(ce, ne, typical)).min(1.0)
        } else {
            1.0
        };
        let all = binomial_upper(f64::from(rare_traces) / d, ne, rate);
        for (count, expected, p) in [(c, nf * typical, repeated), (rare_traces, nf * rate, all)] {
            tests.push(Surge {
                seq,
                count,
                expected,
                p,
                novel,
            });
        }
    }
    // The family is fixed by the reference before the window is looked at: every sequence it holds enough of to
    // be tested on its own, and the rare class's two tests. (Choosing the family by the smallest p-value each
    // test could reach given the window's own counts — Tarone's rule — lets the window pick its tests, and in
    // traffic with many moderately rare sequences it flagged a few percent of normal windows.)
    let tested = reference.count_at_least(levels.rare_below) + 2;
    let level = levels.alpha / tested as f64;
    let best = tests.iter().copied().min_by(|a, b| a.p.total_cmp(&b.p));
    let mut surges: Vec<Surge> = tests.iter().copied().filter(|s| s.p <= level).collect();
    surges.sort_by(|a, b| a.p.total_cmp(&b.p));
    let mut once = Vec::with_capacity(surges.len());
    surges.retain(|s| {
        let first = !once.contains(&s.seq);
        once.push(s.seq);
        first
    });

    let pearson = pearson(counts, n, reference, levels.pool_below);
    let p_global = pearson_p(pearson, n, reference.size(), noise);
    let kind = if surges.is_empty() {
        if p_global < levels.alpha {
            Kind::Remix
        } else {
            Kind::Normal
        }
    } else if additive(counts, reference, &surges, noise, levels) {
        Kind::Surge
    } else {
        Kind::Remix
    };
    Assessment {
        kind,
        surges,
        best,
        tested,
        pearson,
        p_global,
    }
}

/// Pearson's statistic of a window and the χ² it is compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pearson {
    /// `Σ (c − e)² / e` over the cells.
    pub x2: f64,
    /// Degrees of freedom of the scaled χ² that matches its exact multinomial mean and variance.
    pub df: f64,
    /// The scale of that χ² (1 when every cell expects plenty).
    pub scale: f64,
}

/// Pearson's statistic of a window against a reference, cells rarer than `pool_below` pooled. With small
/// expected counts its variance exceeds the χ²'s `2(K − 1)` by `(Σ 1/r − K² − 2K + 2)/n` (the exact
/// multinomial moments), so it is matched to `scale·χ²_df` with the same mean and variance (Satterthwaite):
/// the plain χ² would put the threshold too low and flag a few percent of normal windows.
pub fn pearson(counts: &[(SeqId, u32)], n: usize, reference: &dyn Reference, pool_below: f64) -> Pearson {
    let nf = n as f64;
    let (mut x2, mut cells, mut frequent_share, mut frequent_seen, mut inverse) = (0.0, 0usize, 0.0, 0u64, 0.0);
    reference.frequent(pool_below, &mut |seq, r| {
        let c = counts
            .binary_search_by_key(&seq, |(s, _)| *s)
            .map_or(0, |i| counts[i].1);
        let e = nf * r;
        x2 += (f64::from(c) - e).powi(2) / e;
        cells += 1;
        frequent_share += r;
        frequent_seen += u64::from(c);
        inverse += 1.0 / r;
    });
    // The pool: everything rarer, including sequences the reference never held.
    let pool_share = (1.0 - frequent_share).max(pool_below);
    let pool_e = nf * pool_share;
    let pool_c = nf - frequent_seen as f64;
    x2 += (pool_c - pool_e).powi(2) / pool_e;
    inverse += 1.0 / pool_share;
    let k = (cells + 1) as f64;
    let mean = k - 1.0;
    let var = (2.0 * mean + (inverse - k * k - 2.0 * k + 2.0) / nf).max(2.0 * mean);
    let (scale, df) = if mean > 0.0 {
        (var / (2.0 * mean), 2.0 * mean * mean / var)
    } else {
        (1.0, 1.0)
    };
    Pearson { x2, df, scale }
}

/// The p-value of a Pearson statistic against the calibrated noise `φ·(1 + n/N)·scale·χ²_df`.
pub fn pearson_p(p: Pearson, n: usize, size: f64, noise: Dispersion) -> f64 {
    let inflate = noise.phi * (1.0 + n as f64 / size.max(1.0)) * p.scale;
    chi2_sf(p.x2 / inflate, p.df)
}

/// Whether the window without its surging sequences still matches the reference without them.
fn additive(
    counts: &[(SeqId, u32)],
    reference: &dyn Reference,
    surges: &[Surge],
    noise: Dispersion,
    levels: Levels,
) -> bool {
    // The surging sequences, and the whole rare class (in the window and in the reference) when it is part of
    // the evidence.
    let rare = surges.iter().any(|s| levels.rare(reference.share(s.seq)));
    let excluded: Vec<SeqId> = surges.iter().map(|s| s.seq).collect();
    let mut without = Without {
        inner: reference,
        excluded: &excluded,
        rare_below: rare.then_some(levels.rare_below),
        rest: 1.0,
    };
    let surging: f64 = excluded
        .iter()
        .map(|s| reference.share(*s))
        .filter(|r| !rare || !levels.rare(*r))
        .sum();
    let rest = 1.0
        - surging
        - if rare {
            reference.mass_below(levels.rare_below)
        } else {
            0.0
        };
    without.rest = rest;
    let remainder: Vec<(SeqId, u32)> = counts
        .iter()
        .filter(|(s, _)| without.kept(*s, reference.share(*s)))
        .copied()
        .collect();
    let n2: u32 = remainder.iter().map(|(_, c)| *c).sum();
    if n2 == 0 || rest <= 1e-9 {
        return true;
    }
    let n2 = n2 as usize;
    let whole = pearson_p(
        pearson(&remainder, n2, &without, levels.pool_below),
        n2,
        without.size(),
        noise,
    );
    whole >= levels.remix_alpha && largest_deficit(&remainder, n2, &without, noise) >= levels.remix_alpha
}

/// The most significant shortfall among the sequences the reference expects at least one trace of,
/// Bonferroni-adjusted over them: a common sequence that vanished.
fn largest_deficit(counts: &[(SeqId, u32)], n: usize, reference: &dyn Reference, noise: Dispersion) -> f64 {
    let nf = n as f64;
    let size = reference.size();
    let pi = nf / (nf + size.max(1.0));
    let (mut best, mut cells) = (1.0f64, 0usize);
    reference.frequent(1.0 / nf, &mut |seq, r| {
        cells += 1;
        let c = counts
            .binary_search_by_key(&seq, |(s, _)| *s)
            .map_or(0, |i| counts[i].1);
        let e = nf * r;
        if f64::from(c) < e {
            let d = noise.factor(e);
            best = best.min(binomial_lower(f64::from(c) / d, (f64::from(c) + size * r) / d, pi));
        }
    });
    (best * cells.max(1) as f64).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sequences below 100 were seen; never-seen ones were 0.2 % of 2000 normal traces, spread thinly.
    struct Seen;
    impl History for Seen {
        fn seen(&self, seq: SeqId) -> bool {
            seq < 100
        }
        fn unseen(&self) -> Unseen {
            Unseen {
                rate: 0.002,
                typical: 1.0 / 2000.0,
            }
        }
    }

    const LEVELS: Levels = Levels {
        alpha: 0.005,
        remix_alpha: 0.001,
        pool_below: 0.01,
        rare_below: 0.001,
    };

    /// A reference of 10 sequences: 30, 20, 15, 10, 8, 6, 4, 3, 2, 2 % of 2000 traces.
    fn reference() -> Mix {
        let shares = [0.3, 0.2, 0.15, 0.1, 0.08, 0.06, 0.04, 0.03, 0.02, 0.02];
        Mix::of_shares(
            shares.iter().enumerate().map(|(i, s)| (i as SeqId, *s)).collect(),
            2000.0,
        )
    }

    fn verdict(window: &[(SeqId, u32)]) -> Assessment {
        let n = window.iter().map(|(_, c)| *c as usize).sum();
        assess(window, n, &reference(), &Seen, Dispersion::default(), LEVELS)
    }

    #[test]
    fn an_expected_window_is_normal() {
        let w = [(0, 15), (1, 10), (2, 8), (3, 5), (4, 4), (5, 3), (6, 2), (7, 2), (8, 1)];
        assert_eq!(verdict(&w).kind, Kind::Normal);
    }

    #[test]
    fn a_surge_added_to_normal_traffic_is_a_surge_and_names_its_sequence() {
        // 30 % of the window replaced by sequence 6 (4 % share): the rest scaled by 0.7.
        let w = [(0, 11), (1, 7), (2, 5), (3, 4), (4, 3), (5, 2), (6, 16), (7, 1), (8, 1)];
        let a = verdict(&w);
        assert_eq!(a.kind, Kind::Surge, "{a:?}");
        assert_eq!(a.surges[0].seq, 6);
        assert!(!a.novel());
    }

    #[test]
    fn a_never_seen_path_repeated_is_novel_evidence() {
        let w = [
            (0, 14),
            (1, 9),
            (2, 7),
            (3, 5),
            (4, 4),
            (5, 3),
            (6, 2),
            (7, 1),
            (500, 5),
        ];
        let a = verdict(&w);
        assert!(a.novel(), "{a:?}");
        assert_eq!(a.kind, Kind::Surge);
        // Seen once, it is no evidence.
        let once = verdict(&[
            (0, 15),
            (1, 10),
            (2, 8),
            (3, 5),
            (4, 4),
            (5, 3),
            (6, 2),
            (7, 2),
            (500, 1),
        ]);
        assert_eq!(once.kind, Kind::Normal, "{once:?}");
    }

    #[test]
    fn where_new_paths_are_the_norm_a_repeat_is_not_evidence() {
        // Nearly every trace is new (60 %), thinly spread: two copies of one new path happen by chance.
        struct Diverse;
        impl History for Diverse {
            fn seen(&self, seq: SeqId) -> bool {
                seq < 100
            }
            fn unseen(&self) -> Unseen {
                Unseen {
                    rate: 0.6,
                    typical: 1.0 / 1300.0,
                }
            }
        }
        let mut w: Vec<(SeqId, u32)> = vec![(0, 10), (1, 8), (500, 2)];
        w.extend((501..531).map(|s| (s, 1)));
        let n = w.iter().map(|(_, c)| *c as usize).sum();
        let a = assess(&w, n, &reference(), &Diverse, Dispersion::default(), LEVELS);
        assert!(!a.novel(), "{a:?}");
        // Five copies of one are still far beyond chance there.
        w[2].1 = 5;
        w.truncate(30);
        let a = assess(&w, 50, &reference(), &Diverse, Dispersion::default(), LEVELS);
        assert!(a.novel(), "{a:?}");
    }

    #[test]
    fn a_remix_is_not_a_surge() {
        // Sequence 8 jumps to 50 % while the two most common sequences vanish: not traffic added to normal.
        let w = [(2, 6), (3, 5), (4, 4), (5, 4), (6, 3), (7, 3), (8, 25)];
        let a = verdict(&w);
        assert_eq!(a.kind, Kind::Remix, "{a:?}");
    }
}
