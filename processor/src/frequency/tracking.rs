//! The evidence method across windows: which windows are alarms, which ones the reference learns from, and
//! how it follows a changing workload ([`super::regime`]). The same state machine serves `score`, `eval` and the
//! pipeline; everything it decides is a function of the windows it was given, in order.
//!
//! Per window (its sorted sequence counts are in the [`Scorer`]):
//!
//! 1. [`assess`] it against the reference (the adaptive baseline). A window within the noise is normal — unless,
//!    pooled with the window before it, a surge shows (a burst spread over two windows at 20 % is far clearer
//!    in 100 traces than in 50).
//! 2. A normal window is **held**, and learned only when the next window is normal too: evidence can build over
//!    two windows, and the first window of a burst must not have moved the reference already. Learning is an
//!    exponentially weighted step `α` (the running mean while the reference has fewer traces than the steady
//!    state `W(2 − α)/α`), and each learned window's residuals refine the measured [`Noise`].
//! 3. A departed window is never learned. It may match a mix seen before (the library: switch back, no alarm);
//!    otherwise a **surge** (or a never-seen path repeated) is an alarm, a **re-mix** is not, and either opens or
//!    extends the pending regime, which is accepted after enough agreeing windows.
//! 4. One CUSUM per sequence ([`super::sequential`]) reports sustained low-rate surges that no single window
//!    shows (`sustained`). The reference goes on learning while a statistic builds up: it absorbs a steady
//!    excess only at its step `α` per window, slower than the CUSUM reports one of 2σ, while a share that drifts
//!    legitimately is followed instead of frozen into an alarm.

use serde::{Deserialize, Serialize};

use super::baseline::Baseline;
use super::evidence::{assess, Assessment, History, Kind, Levels, Reference, Surge, Unseen};
use super::noise::{Dispersion, Noise};
use super::regime::{merge_counts, Library, Pending, DEFAULT_CONFIRM, DEFAULT_LIBRARY};
use super::scorer::Scorer;
use super::sequence::SeqId;
use super::sequential::Sequential;
use super::stats::{normal_quantile, z_of};

/// Departed windows in a row, in units of the confirmation, after which the reference settles on the last ones
/// even if they never agreed.
const SETTLE: usize = 3;

/// Most pairs of one rare sequence a single window adds to the rare class's measured concentration.
const RARE_PAIRS_CAP: f64 = 3.0;

/// A sequence the steady-state reference holds fewer traces of than this is judged as part of the rare class:
/// its share is known to no better than ±60 %, too loosely for a test of its own.
const RARE_TRACES: f64 = 3.0;

/// Rare traces' worth of trust in the floor of the rare class's typical rate.
const RARE_PRIOR: f64 = 20.0;

/// The evidence method's settings, stored in the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvidenceSettings {
    /// Per-window level of the tests: the nominal share of normal windows flagged by chance.
    pub alpha: f64,
    /// Level at which a departure's remainder no longer matches the reference (a re-mix, not a surge).
    pub remix_alpha: f64,
    /// Step of the reference towards each window learned.
    pub adapt: f64,
    /// Agreeing departed windows that confirm a regime change (0 = never accept one).
    pub confirm_windows: usize,
    /// Past references remembered.
    pub library: usize,
    /// Scatter of normal windows around the reference, measured on the validation windows.
    pub dispersion: Dispersion,
    /// Per-sequence CUSUM allowance, in σ.
    pub cusum_reference: f64,
    /// Per-sequence CUSUM decision threshold, in σ.
    pub cusum_threshold: f64,
    /// The rare class in the validation windows (and the training traces before them).
    #[serde(default)]
    pub rare: RareClass,
}

/// How often normal traces belong to the rare class (sequences below one trace of the reference), and how often
/// two traces of one window share such a sequence: sums over the normal windows measured.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RareClass {
    /// Traces measured.
    pub traces: f64,
    /// Of those, traces of the rare class.
    pub rare_traces: f64,
    /// Pairs of traces within one window.
    pub pairs: f64,
    /// Of those, pairs sharing one sequence of the rare class.
    pub rare_pairs: f64,
}

impl Default for EvidenceSettings {
    fn default() -> Self {
        Self {
            alpha: 0.005,
            remix_alpha: 0.01,
            adapt: 0.1,
            confirm_windows: DEFAULT_CONFIRM,
            library: DEFAULT_LIBRARY,
            dispersion: Dispersion::default(),
            cusum_reference: 1.0,
            cusum_threshold: 5.0,
            rare: RareClass::default(),
        }
    }
}

/// What the window was, for the verdict.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// An alarm: a sequence more frequent than the reference allows, or a never-seen path repeated.
    pub flagged: bool,
    /// A never-seen path is part of the evidence.
    pub novel: bool,
    /// The mix departs as a whole: a pending regime change (not an alarm).
    pub shift: bool,
    /// A pending regime was accepted with this window.
    pub rebaselined: bool,
    /// The window matched a mix seen before and the reference switched back to it.
    pub returned: bool,
    /// The CUSUM alarmed, or a regime of surges was accepted.
    pub sustained: bool,
    /// The alarm came from this window pooled with the one before.
    pub pooled: bool,
    /// The strongest evidence, as a z-score (Φ⁻¹ of the Bonferroni–Tarone adjusted p-value; 0 when there is
    /// none).
    pub evidence: f64,
    /// The z-score an alarm needs (Φ⁻¹ of 1 − α).
    pub level: f64,
    /// The significant surges behind the verdict, strongest first (against whichever reference decided it).
    pub surges: Vec<Surge>,
    /// The strongest surge test against the reference, significant or not.
    pub best: Option<Surge>,
    /// The CUSUM statistic reached, in σ.
    pub cusum: f64,
    /// Pooled chi distance of the window from the reference.
    pub distance: f64,
    /// The distance the reference's noise allows at level α (`φ·(1 + n/N)·χ²_df` quantile).
    pub threshold: f64,
}

/// Normal traffic seen so far: which sequences, how many traces, and the rare class's statistics.
#[derive(Debug, Clone, Default)]
struct Seen {
    seqs: Vec<bool>,
    /// Normal traces in all (training included): the floor of the rare class's concentration.
    traces: f64,
    rare: RareClass,
}

impl Seen {
    /// Counts one normal window against the reference it was judged by.
    fn count(&mut self, counts: &[(SeqId, u32)], n: usize, baseline: &Baseline, levels: &Levels) {
        let mut pairs = 0.0;
        for (s, c) in counts {
            if levels.rare(baseline.frequency(*s)) {
                self.rare.rare_traces += f64::from(*c);
                pairs += f64::from(*c) * f64::from(c.saturating_sub(1)) / 2.0;
            }
        }
        // Winsorized: a window adds at most a triple's pairs, so that one clump of a new path (a session
        // repeating it) does not make every later new path look like chance.
        self.rare.rare_pairs += pairs.min(RARE_PAIRS_CAP);
        let n = n as f64;
        self.rare.pairs += n * (n - 1.0) / 2.0;
        self.rare.traces += n;
        self.traces += n;
    }

    fn mark(&mut self, seqs: impl IntoIterator<Item = SeqId>) {
        for s in seqs {
            let s = s as usize;
            if self.seqs.len() <= s {
                self.seqs.resize(s + 1, false);
            }
            self.seqs[s] = true;
        }
    }
}

impl History for Seen {
    fn seen(&self, seq: SeqId) -> bool {
        self.seqs.get(seq as usize).copied().unwrap_or(false)
    }
    fn unseen(&self) -> Unseen {
        let r = &self.rare;
        let traces = self.traces.max(1.0);
        // The class's share, at least half a trace in all the traffic measured.
        let rate = (r.rare_traces / r.traces.max(1.0)).max(0.5 / r.traces.max(1.0));
        // Σp² from repeats of one rare sequence within normal windows; a typical sequence's rate is Σp²/Σp. Both
        // are ratios of small counts while few rare traces have been seen, so the measurement is trusted in
        // proportion to them (shrunk towards the floor, with the weight of RARE_PRIOR traces): two traces of one
        // new path in the validation windows must not make every new path look common. The floor is what
        // `traces` normal traces imply: a sequence they hardly showed has p ≲ 1/traces.
        let floor = 1.0 / traces;
        let measured = if r.pairs > 0.0 && r.rare_traces > 0.0 {
            (r.rare_pairs / r.pairs) / (r.rare_traces / r.traces.max(1.0))
        } else {
            floor
        };
        let w = r.rare_traces / (r.rare_traces + RARE_PRIOR);
        Unseen {
            rate,
            typical: (w * measured + (1.0 - w) * floor).max(floor),
        }
    }
}

/// The evidence method's state.
#[derive(Debug, Clone)]
pub struct Tracker {
    settings: EvidenceSettings,
    levels: Levels,
    /// Traces per window the model was trained for.
    window: usize,
    /// The reference's size in the steady state of its exponential weighting.
    steady_size: f64,
    max_sequences: usize,
    noise: Noise,
    seen: Seen,
    held: Option<(Vec<(SeqId, u32)>, usize)>,
    pending: Pending,
    library: Library,
    sequential: Sequential,
    generation: u64,
    /// Departed windows in a row, and the last few of them (to settle on, should they never agree).
    departed: usize,
    recent: std::collections::VecDeque<(Vec<(SeqId, u32)>, usize)>,
}

impl Tracker {
    /// A tracker for windows of `window` traces against `scorer`'s baseline (the trained one), whose
    /// sequences are all known.
    pub fn new(settings: EvidenceSettings, window: usize, max_sequences: usize, scorer: &Scorer) -> Self {
        let baseline = &scorer.baseline;
        let mut seen = Seen {
            traces: baseline.size() + settings.rare.traces,
            rare: settings.rare,
            ..Seen::default()
        };
        seen.mark(baseline.snapshot().shares().iter().map(|(s, _)| *s));
        let w = window.max(1) as f64;
        let adapt = settings.adapt.clamp(1e-6, 1.0);
        let steady_size = w * (2.0 - adapt) / adapt;
        Self {
            settings,
            levels: levels(&settings, window, steady_size),
            window: window.max(1),
            steady_size,
            max_sequences,
            noise: Noise::new(settings.dispersion),
            seen,
            held: None,
            pending: Pending::default(),
            library: Library::new(settings.library),
            sequential: Sequential::default(),
            generation: baseline.generation(),
            departed: 0,
            recent: std::collections::VecDeque::new(),
        }
    }

    /// `seq` was never seen in normal traffic: neither the reference nor anything learned or accepted holds it.
    pub fn novel(&self, seq: SeqId, baseline: &Baseline) -> bool {
        baseline.frequency(seq) == 0.0 && !self.seen.seen(seq)
    }

    /// The current scatter estimate.
    pub fn dispersion(&self) -> Dispersion {
        self.noise.dispersion()
    }

    /// The rare class's statistics so far.
    pub fn rare_class(&self) -> RareClass {
        self.seen.rare
    }

    /// Learns the measured window as normal, without judging it (validation windows, which are normal by
    /// definition); records its scatter first.
    pub fn learn_normal(&mut self, scorer: &mut Scorer) {
        let (counts, n) = scorer.counts();
        let counts = counts.to_vec();
        self.learn(scorer, &counts, n);
    }

    /// Judges the window measured in `scorer` and updates the state.
    pub fn step(&mut self, scorer: &mut Scorer) -> Outcome {
        let (counts, n) = scorer.counts();
        let counts = counts.to_vec();
        let noise = self.noise.dispersion();
        let baseline = &scorer.baseline;
        let a = assess(&counts, n, baseline, &self.seen, noise, self.levels);
        let (distance, threshold) = self.global(baseline, &a, n);
        let mut out = Outcome {
            evidence: evidence_z(a.adjusted_p()),
            level: z_of(self.settings.alpha),
            best: a.best,
            distance,
            threshold,
            ..Outcome::default()
        };
        let mut kind = a.kind;
        let mut decided = a.clone();
        if kind == Kind::Normal {
            if let Some((held, held_n)) = &self.held {
                let both = merge_counts(held, &counts);
                let p = assess(&both, held_n + n, baseline, &self.seen, noise, self.levels);
                if p.kind == Kind::Surge || p.novel() {
                    kind = Kind::Surge;
                    out.pooled = true;
                    out.evidence = evidence_z(p.adjusted_p());
                    decided = p;
                }
            }
        }
        if kind == Kind::Normal {
            // Sustained surges are measured against a settled reference only: one just rebuilt from a few
            // windows of a new regime still carries their bias, which a CUSUM would take for a shift.
            let settled = baseline.size() >= self.steady_size / 2.0;
            let q = if settled {
                self.sequential.update(
                    &counts,
                    n,
                    baseline,
                    noise,
                    self.levels.pool_below,
                    self.settings.cusum_reference,
                    self.settings.cusum_threshold,
                )
            } else {
                Default::default()
            };
            out.cusum = q.max;
            if let Some((held, held_n)) = self.held.take() {
                self.learn(scorer, &held, held_n);
            }
            if !q.alarms.is_empty() {
                out.sustained = true;
                let baseline = &scorer.baseline;
                out.surges = q
                    .alarms
                    .iter()
                    .map(|(seq, _)| {
                        let c = counts.binary_search_by_key(seq, |(s, _)| *s).map_or(0, |i| counts[i].1);
                        Surge {
                            seq: *seq,
                            count: c,
                            expected: n as f64 * baseline.frequency(*seq),
                            p: a.surges
                                .iter()
                                .chain(a.best.iter())
                                .find(|s| s.seq == *seq)
                                .map_or(1.0, |s| s.p),
                            novel: false,
                        }
                    })
                    .collect();
            }
            // The window waits to be learned, without the excess of a sequence that has just alarmed (it is
            // learned from the next window on, as a shift that persists).
            let capped: Vec<(SeqId, u32)> = counts
                .iter()
                .map(|(s, c)| {
                    if q.alarms.iter().any(|(a, _)| a == s) {
                        let e = (n as f64 * scorer.baseline.frequency(*s)).ceil() as u32;
                        (*s, (*c).min(e))
                    } else {
                        (*s, *c)
                    }
                })
                .filter(|(_, c)| *c > 0)
                .collect();
            scorer.keep_window_sequences();
            let kept: usize = capped.iter().map(|(_, c)| *c as usize).sum();
            self.held = Some((capped, kept));
            self.pending.clear();
            self.departed = 0;
            self.recent.clear();
            out.flagged = out.sustained;
            return out;
        }
        self.held = None;
        out.surges = decided.surges.clone();

        // A mix this application has shown before is not an attack.
        if !a.novel() {
            let found = self.library.iter().position(|old| {
                let r = assess(&counts, n, old, &self.seen, noise, self.levels);
                r.kind == Kind::Normal && !r.novel()
            });
            if let Some(i) = found {
                if let Some(old) = self.library.take(i) {
                    self.library.remember(scorer.baseline.snapshot());
                    scorer.baseline.set_mix(&old);
                    self.pending.clear();
                    self.departed = 0;
                    self.recent.clear();
                    self.sequential.reset();
                    out.returned = true;
                    out.surges.clear();
                    tracing::info!(
                        distance,
                        "frequency: the traffic mix is back to one seen before; switched to it"
                    );
                    return out;
                }
            }
        }

        let surge = kind == Kind::Surge;
        out.flagged = surge || decided.novel() || out.sustained;
        out.novel = decided.novel();
        out.shift = !surge;
        if self.pending.is_empty() {
            self.pending.restart(&counts, surge);
        } else {
            let c = assess(&counts, n, self.pending.mix(), &self.seen, noise, self.levels);
            match c.kind {
                Kind::Normal => self.pending.push(&counts, surge),
                Kind::Surge if !self.pending.surged() => {
                    // A burst on top of a pending re-mix: an alarm, and not part of the regime.
                    out.flagged = true;
                    out.shift = false;
                    out.novel |= c.novel();
                    if out.surges.is_empty() || !surge {
                        out.surges = c.surges.clone();
                        out.evidence = evidence_z(c.adjusted_p());
                    }
                }
                _ => self.pending.restart(&counts, surge),
            }
        }
        scorer.keep_window_sequences();
        let confirm = self.settings.confirm_windows;
        self.departed += 1;
        if confirm > 0 {
            if self.recent.len() == confirm {
                self.recent.pop_front();
            }
            self.recent.push_back((counts, n));
        }
        if confirm > 0 && self.pending.windows() >= confirm {
            let accepted = self.pending.mix().clone();
            out.sustained |= self.pending.all_surges();
            self.accept(scorer, accepted, self.pending.sequences().collect());
            tracing::info!(
                distance,
                windows = confirm,
                "frequency: a persistent change in the traffic mix was confirmed; the reference moved to it"
            );
            out.rebaselined = true;
        } else if confirm > 0 && self.departed >= SETTLE * confirm {
            // Departures that never agree with each other for long enough still end: the reference settles on
            // the last windows, reported as a sustained shift, so that nothing flags forever.
            let mut pool = Pending::default();
            for (c, _) in &self.recent {
                pool.push(c, true);
            }
            for (c, n) in std::mem::take(&mut self.recent) {
                self.seen.count(&c, n, &scorer.baseline, &self.levels);
            }
            let accepted = pool.mix().clone();
            self.accept(scorer, accepted, pool.sequences().collect());
            tracing::info!(
                distance,
                windows = self.departed,
                "frequency: the traffic mix kept departing without settling; the reference moved to the last windows"
            );
            out.rebaselined = true;
            out.sustained = true;
            out.flagged = true;
        }
        out
    }

    /// Makes `mix` the reference (the current one is remembered), its sequences seen.
    fn accept(&mut self, scorer: &mut Scorer, mix: super::evidence::Mix, seqs: Vec<SeqId>) {
        self.seen.mark(seqs);
        self.seen.traces += mix.size();
        self.library.remember(scorer.baseline.snapshot());
        scorer.baseline.set_mix(&mix);
        self.pending.clear();
        self.departed = 0;
        self.recent.clear();
        self.sequential.reset();
    }

    /// The pooled chi distance and the distance the noise allows at level α (Wilson–Hilferty's χ² quantile).
    fn global(&self, baseline: &Baseline, a: &Assessment, n: usize) -> (f64, f64) {
        let p = a.pearson;
        let nf = (n as f64).max(1.0);
        let z = -normal_quantile(self.settings.alpha);
        let h = 2.0 / (9.0 * p.df);
        let q = p.df * (1.0 - h + z * h.sqrt()).max(0.0).powi(3);
        let inflate = self.noise.dispersion().phi * (1.0 + nf / baseline.size().max(1.0)) * p.scale;
        ((p.x2 / nf).sqrt(), (q * inflate / nf).sqrt())
    }

    /// One learning step towards a normal window: its residuals refine the noise, the reference moves and grows.
    fn learn(&mut self, scorer: &mut Scorer, counts: &[(SeqId, u32)], n: usize) {
        if n == 0 {
            return;
        }
        let baseline = &mut scorer.baseline;
        self.seen.count(counts, n, baseline, &self.levels);
        let mut cells = Vec::new();
        baseline.frequent(0.0, &mut |s, r| {
            let c = counts.binary_search_by_key(&s, |(q, _)| *q).map_or(0, |i| counts[i].1);
            cells.push((c, r));
        });
        self.noise.observe(cells, n, baseline.size());
        let nf = n as f64;
        let size = baseline.size().max(1.0);
        let partial = (nf / self.window as f64).min(1.0);
        let step = (self.settings.adapt * partial).max(nf / (size + nf)).min(1.0);
        baseline.adapt(counts, n, step, self.max_sequences);
        // The variance of an exponentially weighted mean: 1/N' = (1 − a)²/N + a²/n.
        let grown = 1.0 / ((1.0 - step).powi(2) / size + step * step / nf);
        baseline.set_size(grown.min(self.steady_size.max(size)));
        self.seen.mark(counts.iter().map(|(s, _)| *s));
        if baseline.generation() != self.generation {
            // Rare sequences were forgotten and ids renumbered: what refers to ids starts again.
            self.generation = baseline.generation();
            self.library.clear();
            self.pending.clear();
            self.held = None;
            self.seen.seqs.clear();
            self.seen.mark(baseline.snapshot().shares().iter().map(|(s, _)| *s));
        }
    }
}

/// An adjusted p-value as the z-score people read, 0 meaning no evidence at all.
fn evidence_z(p: f64) -> f64 {
    z_of(p).max(0.0)
}

fn levels(s: &EvidenceSettings, window: usize, steady_size: f64) -> Levels {
    Levels {
        alpha: s.alpha,
        remix_alpha: s.remix_alpha,
        pool_below: 1.0 / (2.0 * window.max(1) as f64),
        rare_below: RARE_TRACES / steady_size.max(1.0),
    }
}
