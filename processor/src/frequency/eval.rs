//! Evaluating the detector as it runs: one file in time order, scored in one pass with state carried from
//! window to window exactly as in the pipeline, with bursts injected into windows it picks (seeded) and labelled
//! windows (faults) kept apart.
//!
//! The stream: the first `train_fraction` of the traces trains, the next `validation_fraction` calibrates (both
//! without the traces of labelled periods: training is on normal operation), the rest is cut into windows and
//! scored in order. Bursts start after a gap drawn from `gap` windows and last 1 or 2 windows; a burst window has
//! `fraction` of its traces (positions drawn at random) replaced by copies of one trace:
//!
//! - **surge**: a real trace of a sequence whose share in the last 10 windows is between 1 % and 10 % (an
//!   established, uncommon call path, such as a login), the same one for both windows of a burst;
//! - **novel**: a real training trace with one call removed (a leaf span) or one call added (a copy of one of its
//!   spans, as a child of another), until its sequence appears nowhere in the file: a forged call path;
//! - **rare**: a real trace of a sequence seen at least twice in training but below 1 % of it.
//!
//! Every run replays the whole stream with its own schedule (`seed + run`); a window is *flagged* when the
//! detector says `anomalous` or `sustained`, as `anomaly.detected` would. A burst is caught *within 1* when its
//! first window is flagged, *within 2* when one of its first two windows is.

use serde::Serialize;

use super::detector::FrequencyDetector;
use super::model::FrequencyModel;
use super::sequence::{SequenceExtractor, Vocabulary};
use super::train::{train, TrainError, TrainOptions};
use crate::record::SpanRecord;
use crate::rng::Rng;
use crate::Trace;

/// What a burst injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InjectionKind {
    /// An existing, uncommon sequence surging.
    Surge,
    /// A never-seen call path (a real trace with one call removed or added).
    Novel,
    /// A sequence rare in training surging.
    Rare,
}

impl InjectionKind {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Surge => "surge",
            Self::Novel => "novel",
            Self::Rare => "rare",
        }
    }
}

/// One injection setting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Injection {
    /// What is injected.
    pub kind: InjectionKind,
    /// Share of a burst window's traces replaced.
    pub fraction: f64,
}

impl std::str::FromStr for Injection {
    type Err = String;

    /// `kind:fraction`, e.g. `surge:0.3` (the `--inject` form); the error says what was expected.
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, fraction) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: expected kind:fraction, e.g. surge:0.3"))?;
        let kind = match kind {
            "surge" => InjectionKind::Surge,
            "novel" => InjectionKind::Novel,
            "rare" => InjectionKind::Rare,
            other => return Err(format!("{other:?}: the injections are surge, novel and rare")),
        };
        let fraction: f64 = fraction
            .parse()
            .map_err(|_| format!("{fraction:?}: a fraction, e.g. 0.3"))?;
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(format!("{fraction}: a fraction in (0, 1], e.g. 0.3"));
        }
        Ok(Injection { kind, fraction })
    }
}

/// A labelled period (a fault, an attack recorded in the data): its windows are neither normal nor bursts.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// Start, ns since the epoch.
    pub start_ns: u64,
    /// End, ns since the epoch.
    pub end_ns: u64,
    /// What it was (for the report).
    pub kind: String,
}

/// The stream's settings.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// Share of the traces that trains.
    pub train_fraction: f64,
    /// Share that validates (calibrates) right after.
    pub validation_fraction: f64,
    /// Replays, each with its own schedule.
    pub runs: usize,
    /// Seed of the first run.
    pub seed: u64,
    /// Normal windows between bursts, drawn uniformly from this range.
    pub gap: (usize, usize),
    /// Labelled periods.
    pub labels: Vec<Label>,
    /// Keep every window's verdict of this run (0-based) in the result, to see what happened.
    pub explain: Option<usize>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            train_fraction: 0.4,
            validation_fraction: 0.1,
            runs: 10,
            seed: 0,
            gap: (15, 35),
            labels: Vec::new(),
            explain: None,
        }
    }
}

/// How one labelled kind was seen.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LabelledOutcome {
    /// The label's kind.
    pub kind: String,
    /// Its windows, over all runs.
    pub windows: usize,
    /// Those flagged.
    pub flagged: usize,
}

/// The outcome of one method × injection setting over every run.
#[derive(Debug, Clone, Serialize)]
pub struct StreamResult {
    /// `kind fraction`, e.g. `surge 30%`.
    pub injection: String,
    /// Runs.
    pub runs: usize,
    /// Normal windows scored, over all runs.
    pub normal_windows: usize,
    /// Those flagged.
    pub normal_flagged: usize,
    /// `normal_flagged / normal_windows`.
    pub false_alarm_rate: f64,
    /// Which normal windows were flagged (index in the test part, from 0) and in how many runs.
    pub flagged_normal: Vec<(usize, usize)>,
    /// Bursts.
    pub bursts: usize,
    /// Bursts whose first window was flagged.
    pub caught_first: usize,
    /// Bursts flagged in one of their first two windows.
    pub caught_within_2: usize,
    /// Burst windows.
    pub burst_windows: usize,
    /// Burst windows flagged.
    pub burst_windows_flagged: usize,
    /// Mean windows from a caught burst's start to its first flagged window (0 = its first).
    pub mean_delay: Option<f64>,
    /// Regime changes accepted, over all runs.
    pub rebaselined: usize,
    /// Labelled windows by kind.
    pub labelled: Vec<LabelledOutcome>,
    /// With [`StreamOptions::explain`]: that run's windows, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub explained: Vec<ExplainedWindow>,
}

/// One window of an explained run.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainedWindow {
    /// Index in the test part.
    pub window: usize,
    /// `normal`, `burst` or the label's kind.
    pub truth: String,
    /// The detector's verdict.
    pub verdict: super::detector::FrequencyVerdict,
}

/// Why a stream evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The fractions leave nothing to test.
    #[error("--train-fraction and --validation-fraction must leave traces for training, validation and testing (of {0} traces)")]
    Split(usize),
    /// Training failed.
    #[error("training failed")]
    Train(#[source] TrainError),
    /// No trace could be injected.
    #[error("no {0} injection is possible in this data (no sequence qualifies)")]
    Injection(&'static str),
}

/// The data, split and indexed once, then scored for any number of settings.
pub struct Stream<'a> {
    model: FrequencyModel,
    training: &'a [Trace],
    validation: &'a [Trace],
    test: &'a [Trace],
    window: usize,
    /// Sequence of every trace in `training` and `test` (one vocabulary for the whole file).
    train_seq: Vec<u32>,
    test_seq: Vec<u32>,
    /// Every sequence of the file, to tell a mutation apart from anything real.
    vocab: Vocabulary,
    /// Per test window: the labels it overlaps.
    window_labels: Vec<Option<String>>,
    opts: StreamOptions,
}

impl<'a> Stream<'a> {
    /// Splits `traces` (in the order they are to be scored) and trains a model with `train_opts`.
    pub fn new(traces: &'a [Trace], opts: StreamOptions, train_opts: &TrainOptions) -> Result<Self, StreamError> {
        let n = traces.len();
        let t = ((n as f64) * opts.train_fraction).round() as usize;
        let v = ((n as f64) * (opts.train_fraction + opts.validation_fraction)).round() as usize;
        let window = train_opts.window.max(1);
        if t == 0 || v <= t || v + window > n {
            return Err(StreamError::Split(n));
        }
        let model = train_normal(&traces[..t], &traces[t..v], &opts.labels, train_opts)?;
        let (training, test) = (&traces[..t], &traces[v..]);
        let mut vocab = Vocabulary::with_siblings(model.siblings);
        let mut x = SequenceExtractor::new();
        let train_seq = training.iter().map(|tr| x.sequence(tr, &mut vocab)).collect();
        let test_seq = test.iter().map(|tr| x.sequence(tr, &mut vocab)).collect();
        traces[t..v].iter().for_each(|tr| {
            x.sequence(tr, &mut vocab);
        });
        let window_labels = test
            .chunks_exact(window)
            .map(|w| {
                let (s, e) = (
                    w.iter().map(Trace::start_ns).min().unwrap_or(0),
                    w.iter().map(Trace::end_ns).max().unwrap_or(0),
                );
                opts.labels
                    .iter()
                    .find(|l| s <= l.end_ns && e >= l.start_ns)
                    .map(|l| l.kind.clone())
            })
            .collect();
        Ok(Self {
            model,
            training,
            validation: &traces[t..v],
            test,
            window,
            train_seq,
            test_seq,
            vocab,
            window_labels,
            opts,
        })
    }

    /// The trained model.
    pub fn model(&self) -> &FrequencyModel {
        &self.model
    }

    /// Another model trained on exactly this stream's training and validation traces (another method, to
    /// compare on the same schedules).
    pub fn train_like(&self, opts: &TrainOptions) -> Result<FrequencyModel, StreamError> {
        train_normal(self.training, self.validation, &self.opts.labels, opts)
    }

    /// Test windows (full windows only).
    pub fn windows(&self) -> usize {
        self.window_labels.len()
    }

    /// Windows of each part: training, validation, test.
    pub fn split(&self) -> (usize, usize, usize) {
        let v = self.model.training.validation_traces as usize / self.window;
        (self.training.len() / self.window, v, self.windows())
    }

    /// Scores every run of `injection` with a detector built from `model` (this stream's, or another's trained on
    /// the same split, to compare methods on the same schedules).
    pub fn run(&self, model: &FrequencyModel, injection: Injection) -> Result<StreamResult, StreamError> {
        let windows = self.windows();
        let mut r = StreamResult {
            injection: format!("{} {:.0}%", injection.kind.name(), 100.0 * injection.fraction),
            runs: self.opts.runs,
            normal_windows: 0,
            normal_flagged: 0,
            false_alarm_rate: 0.0,
            flagged_normal: Vec::new(),
            bursts: 0,
            caught_first: 0,
            caught_within_2: 0,
            burst_windows: 0,
            burst_windows_flagged: 0,
            mean_delay: None,
            rebaselined: 0,
            labelled: Vec::new(),
            explained: Vec::new(),
        };
        let mut flagged_normal = vec![0usize; windows];
        let mut delays = Vec::new();
        for run in 0..self.opts.runs {
            let mut rng = Rng::new(self.opts.seed.wrapping_add(run as u64));
            let schedule = self.schedule(&mut rng, injection)?;
            let mut det = FrequencyDetector::new(model);
            let mut flagged = vec![false; windows];
            for (i, w) in self.test.chunks_exact(self.window).enumerate() {
                let v = match &schedule[i] {
                    Some(inject) => {
                        let mut copy = w.to_vec();
                        let replace = ((w.len() as f64) * injection.fraction).round() as usize;
                        for at in pick(&mut rng, w.len(), replace) {
                            copy[at] = inject.clone();
                        }
                        det.evaluate(&copy)
                    }
                    None => det.evaluate(w),
                };
                flagged[i] = v.anomalous || v.sustained;
                r.rebaselined += usize::from(v.rebaselined);
                if self.opts.explain == Some(run) {
                    let truth = match (&self.window_labels[i], &schedule[i]) {
                        (Some(l), _) => l.clone(),
                        (None, Some(_)) => "burst".to_owned(),
                        (None, None) => "normal".to_owned(),
                    };
                    r.explained.push(ExplainedWindow {
                        window: i,
                        truth,
                        verdict: v,
                    });
                }
            }
            for i in 0..windows {
                if let Some(kind) = &self.window_labels[i] {
                    match r.labelled.iter_mut().find(|l| &l.kind == kind) {
                        Some(l) => {
                            l.windows += 1;
                            l.flagged += usize::from(flagged[i]);
                        }
                        None => r.labelled.push(LabelledOutcome {
                            kind: kind.clone(),
                            windows: 1,
                            flagged: usize::from(flagged[i]),
                        }),
                    }
                } else if schedule[i].is_some() {
                    r.burst_windows += 1;
                    r.burst_windows_flagged += usize::from(flagged[i]);
                } else {
                    r.normal_windows += 1;
                    r.normal_flagged += usize::from(flagged[i]);
                    flagged_normal[i] += usize::from(flagged[i]);
                }
            }
            // Bursts: maximal runs of scheduled windows.
            let mut i = 0;
            while i < windows {
                if schedule[i].is_none() {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < windows && schedule[i].is_some() {
                    i += 1;
                }
                r.bursts += 1;
                r.caught_first += usize::from(flagged[start]);
                let first = (start..i).find(|j| flagged[*j]);
                if first.is_some_and(|j| j <= start + 1) {
                    r.caught_within_2 += 1;
                }
                if let Some(j) = first {
                    delays.push((j - start) as f64);
                }
            }
        }
        r.false_alarm_rate = r.normal_flagged as f64 / r.normal_windows.max(1) as f64;
        r.flagged_normal = flagged_normal
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(i, c)| (i, *c))
            .collect();
        r.mean_delay = (!delays.is_empty()).then(|| delays.iter().sum::<f64>() / delays.len() as f64);
        Ok(r)
    }

    /// Which windows get which injected trace in one run: bursts of 1–2 windows after gaps, never on a
    /// labelled window.
    fn schedule(&self, rng: &mut Rng, injection: Injection) -> Result<Vec<Option<Trace>>, StreamError> {
        let windows = self.windows();
        let mut out: Vec<Option<Trace>> = vec![None; windows];
        let (lo, hi) = (self.opts.gap.0.max(1), self.opts.gap.1.max(self.opts.gap.0.max(1)));
        let gap = |rng: &mut Rng| lo + rng.below((hi - lo + 1) as u64) as usize;
        let mut vocab = self.vocab.clone();
        let mut i = gap(rng) / 2;
        while i < windows {
            let len = 1 + rng.below(2) as usize;
            let end = (i + len).min(windows);
            if (i..end).any(|j| self.window_labels[j].is_some()) {
                i += 1;
                continue;
            }
            let trace = self.injected(rng, injection.kind, i, &mut vocab)?;
            for slot in &mut out[i..end] {
                *slot = Some(trace.clone());
            }
            i = end + gap(rng);
        }
        Ok(out)
    }

    /// The trace a burst starting at test window `at` repeats (`vocab`: every sequence of the file, to which
    /// only calls are added).
    fn injected(
        &self,
        rng: &mut Rng,
        kind: InjectionKind,
        at: usize,
        vocab: &mut Vocabulary,
    ) -> Result<Trace, StreamError> {
        match kind {
            InjectionKind::Surge => {
                let from = at.saturating_sub(10) * self.window;
                let to = (at * self.window).max(from);
                let (seqs, traces) = if to - from >= self.window {
                    (&self.test_seq[from..to], &self.test[from..to])
                } else {
                    (&self.train_seq[..], self.training)
                };
                let pick = choose_by_share(rng, seqs, |share, _| (0.01..0.10).contains(&share))
                    .ok_or(StreamError::Injection("surge"))?;
                Ok(traces[pick].clone())
            }
            InjectionKind::Rare => {
                let pick = choose_by_share(rng, &self.train_seq, |share, count| count >= 2 && share < 0.01)
                    .ok_or(StreamError::Injection("rare"))?;
                Ok(self.training[pick].clone())
            }
            InjectionKind::Novel => {
                let mut x = SequenceExtractor::new();
                for _ in 0..200 {
                    let base = &self.training[rng.below(self.training.len() as u64) as usize];
                    if let Some(t) = mutate(rng, base) {
                        let calls = x.calls(&t, vocab).to_vec();
                        if vocab.find(&calls).is_none() {
                            return Ok(t);
                        }
                    }
                }
                Err(StreamError::Injection("novel"))
            }
        }
    }
}

/// Trains on `training` and `validation` without the traces of labelled periods (training is on normal
/// operation).
fn train_normal(
    training: &[Trace],
    validation: &[Trace],
    labels: &[Label],
    opts: &TrainOptions,
) -> Result<FrequencyModel, StreamError> {
    let labelled = |tr: &Trace| {
        let (s, e) = (tr.start_ns(), tr.end_ns());
        labels.iter().any(|l| s <= l.end_ns && e >= l.start_ns)
    };
    let normal = |part: &[Trace]| part.iter().filter(|t| !labelled(t)).cloned().collect::<Vec<_>>();
    train(&normal(training), &normal(validation), opts).map_err(StreamError::Train)
}

/// A trace index whose sequence passes `accept(share, count)` among `seqs`, the sequence drawn uniformly among
/// those that pass, the trace uniformly among its traces.
fn choose_by_share(rng: &mut Rng, seqs: &[u32], accept: impl Fn(f64, usize) -> bool) -> Option<usize> {
    let mut counts: Vec<(u32, usize)> = Vec::new();
    let mut sorted = seqs.to_vec();
    sorted.sort_unstable();
    for s in sorted {
        match counts.last_mut() {
            Some((q, c)) if *q == s => *c += 1,
            _ => counts.push((s, 1)),
        }
    }
    let total = seqs.len().max(1) as f64;
    let ok: Vec<u32> = counts
        .iter()
        .filter(|(_, c)| accept(*c as f64 / total, *c))
        .map(|(s, _)| *s)
        .collect();
    let seq = *ok.get(rng.below(ok.len() as u64) as usize)?;
    let at: Vec<usize> = (0..seqs.len()).filter(|i| seqs[*i] == seq).collect();
    at.get(rng.below(at.len() as u64) as usize).copied()
}

/// `k` distinct positions in `0..n`.
fn pick(rng: &mut Rng, n: usize, k: usize) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    for i in 0..k.min(n) {
        let j = i + rng.below((n - i) as u64) as usize;
        all.swap(i, j);
    }
    all.truncate(k.min(n));
    all
}

/// `base` with one call removed (a leaf that is not the root) or one call added (a copy of one of its spans
/// under another span), at random; `None` when the trace has no span to remove or copy.
fn mutate(rng: &mut Rng, base: &Trace) -> Option<Trace> {
    let spans = &base.spans;
    if spans.len() < 2 {
        return None;
    }
    let root = base.root_index()?;
    let mut out = base.clone();
    if rng.chance(0.5) {
        let leaves: Vec<usize> = (0..spans.len())
            .filter(|i| *i != root && !spans.iter().any(|s| s.parent_span_id() == spans[*i].span_id()))
            .collect();
        let leaf = *leaves.get(rng.below(leaves.len() as u64) as usize)?;
        out.spans.remove(leaf);
    } else {
        let copied = &spans[1 + rng.below((spans.len() - 1) as u64) as usize];
        let parent = &spans[rng.below(spans.len() as u64) as usize];
        let mut span = copied.to_span().ok()?;
        span.span_id = rng.next_u64().max(1).to_be_bytes().to_vec();
        span.parent_span_id = parent.span_id().to_vec();
        span.start_time_unix_nano = parent.start_time_unix_nano().saturating_add(1);
        span.attributes.clear();
        let record = SpanRecord::from_span(copied.resource.clone(), copied.scope.clone(), &span).ok()?;
        out.spans.push(record);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_distinct_positions() {
        let mut rng = Rng::new(1);
        let mut p = pick(&mut rng, 50, 15);
        p.sort_unstable();
        p.dedup();
        assert_eq!(p.len(), 15);
        assert!(p.iter().all(|i| *i < 50));
    }

    #[test]
    fn chooses_only_accepted_shares() {
        let seqs = [0, 0, 0, 0, 0, 0, 0, 0, 1, 2];
        let mut rng = Rng::new(3);
        for _ in 0..20 {
            let i = choose_by_share(&mut rng, &seqs, |share, _| share < 0.5).unwrap();
            assert!(seqs[i] != 0);
        }
        assert_eq!(choose_by_share(&mut rng, &seqs, |_, _| false), None);
    }
}
