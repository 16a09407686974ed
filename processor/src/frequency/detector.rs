//! The frequency detector in the pipeline and the offline commands: one window in, one verdict out, state
//! carried from window to window exactly alike in both.

use serde::Serialize;

use super::divergence::explain;
use super::model::{FrequencyModel, Method};
use super::noise::Dispersion;
use super::scorer::Scorer;
use super::sequence::SeqId;
use super::threshold::ThresholdMethod;
use super::tracking::{Outcome, Tracker};
use crate::attributes::{boolean, double, string, strings};
use crate::{Contribution, Detector, Evidence, Trace, Window, WindowScore};

/// The detector's name (`anomaly.detectors`, metric labels).
pub const NAME: &str = "frequency";

/// `anomaly.frequency.distance`: the window's (pooled chi, or the paper's Euclidean) distance from the
/// baseline (double).
pub const DISTANCE: &str = "anomaly.frequency.distance";
/// `anomaly.frequency.threshold`: the distance it was compared with (double): the noise-calibrated bound of the
/// evidence method, or `mean + k·σ` of the threshold method.
pub const THRESHOLD: &str = "anomaly.frequency.threshold";
/// `anomaly.frequency.cusum`: the sequential statistic, in σ (double).
pub const CUSUM: &str = "anomaly.frequency.cusum";
/// `anomaly.frequency.sustained`: a sustained shift: the sequential test's alarm, or a regime of surges
/// accepted (bool).
pub const SUSTAINED: &str = "anomaly.frequency.sustained";
/// `anomaly.frequency.rebaselined`: present and true on the window that confirmed a regime change (bool).
pub const REBASELINED: &str = "anomaly.frequency.rebaselined";
/// `anomaly.frequency.evidence`: the strongest evidence of the window, as a z-score (double; evidence method).
pub const EVIDENCE: &str = "anomaly.frequency.evidence";
/// `anomaly.frequency.level`: the z-score an alarm needs (double; evidence method).
pub const LEVEL: &str = "anomaly.frequency.level";
/// `anomaly.frequency.novel`: a call path never seen in normal traffic is part of the evidence (bool;
/// evidence method).
pub const NOVEL: &str = "anomaly.frequency.novel";
/// `anomaly.frequency.shift`: present and true when the mix departs as a whole, not by added traffic: a
/// pending regime change, not an alarm (bool).
pub const SHIFT: &str = "anomaly.frequency.shift";
/// `anomaly.frequency.returned`: present and true when the mix returned to one seen before (bool).
pub const RETURNED: &str = "anomaly.frequency.returned";
/// `anomaly.trace.sequence_frequency`: on root spans, the baseline frequency of the trace's sequence (0 = never
/// seen in normal traffic).
pub const SEQUENCE_FREQUENCY: &str = "anomaly.trace.sequence_frequency";
/// `anomaly.trace.novel`: on root spans, present and true when the trace's call path was never seen in normal
/// traffic (bool).
pub const TRACE_NOVEL: &str = "anomaly.trace.novel";
/// `anomaly.trace.divergence`: on root spans of a never-seen path that is evidence, where it leaves the
/// nearest known path (string).
pub const TRACE_DIVERGENCE: &str = "anomaly.trace.divergence";
/// `anomaly.trace.surge`: on root spans, present and true when the trace's sequence is one of the window's
/// surging sequences (bool): the traces of the attack itself.
pub const TRACE_SURGE: &str = "anomaly.trace.surge";
/// `anomaly.frequency.novel_paths`: on the incident, each never-seen path that is evidence, with where it
/// diverges (string array).
pub const NOVEL_PATHS: &str = "anomaly.frequency.novel_paths";

/// Sequences reported per window.
const TOP: usize = 5;

/// One sequence in a verdict's explanation.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopSequence {
    /// `svc/op -> svc/op -> …`.
    pub sequence: String,
    /// Baseline relative frequency.
    pub baseline: f64,
    /// Relative frequency in the window.
    pub observed: f64,
    /// Traces of it in the window (evidence method).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Traces of it the reference expects (evidence method).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<f64>,
    /// Its own evidence as a z-score, before adjusting for the number of sequences tested (evidence method).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub z: Option<f64>,
    /// Never seen in normal traffic.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub novel: bool,
}

/// A never-seen call path that is evidence, explained.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NovelPath {
    /// The path.
    pub sequence: String,
    /// Traces of it in the window.
    pub count: u32,
    /// The nearest known path.
    pub nearest: String,
    /// Where and how it leaves the nearest known path.
    pub divergence: String,
}

/// The frequency detector's verdict on one window.
#[derive(Debug, Clone, Serialize)]
pub struct FrequencyVerdict {
    /// Distance from the baseline.
    pub distance: f64,
    /// The distance's threshold.
    pub threshold: f64,
    /// The single-window alarm.
    pub anomalous: bool,
    /// CUSUM statistic reached in this window, in σ.
    pub cusum: f64,
    /// A sustained shift (the CUSUM's alarm, or a regime of surges accepted).
    pub sustained: bool,
    /// This window confirmed a regime change and the baseline moved to it.
    pub rebaselined: bool,
    /// Largest contributions.
    pub top: Vec<TopSequence>,
    /// The strongest evidence, as a z-score (evidence method).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<f64>,
    /// The z-score an alarm needs (evidence method).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<f64>,
    /// A never-seen call path is part of the evidence.
    pub novel: bool,
    /// Never-seen paths that are evidence, explained.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub novel_paths: Vec<NovelPath>,
    /// The mix departs as a whole (a pending regime change; not an alarm).
    pub shift: bool,
    /// The mix returned to one seen before.
    pub returned: bool,
    /// The alarm rests on this window pooled with the previous one.
    pub pooled: bool,
    /// The measured scatter of normal windows (evidence method).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispersion: Option<Dispersion>,
    /// Baseline frequency of each trace's sequence, in window order.
    #[serde(skip)]
    pub trace_frequencies: Vec<f64>,
    /// Per trace, in window order: never seen in normal traffic.
    #[serde(skip)]
    pub trace_novel: Vec<bool>,
    /// Per trace, in window order: its sequence surged.
    #[serde(skip)]
    pub trace_surge: Vec<bool>,
    /// Per trace, in window order: where its novel path diverges, when that path is evidence.
    #[serde(skip)]
    pub trace_divergence: Vec<Option<String>>,
}

#[derive(Clone)]
enum State {
    Threshold(ThresholdMethod),
    Evidence(Box<Tracker>),
}

/// Scores windows with a trained [`FrequencyModel`].
#[derive(Clone)]
pub struct FrequencyDetector {
    scorer: Scorer,
    state: State,
}

impl FrequencyDetector {
    /// A detector for `model`.
    pub fn new(model: &FrequencyModel) -> Self {
        let baseline = model.baseline().with_frequent_floor(0.25 / model.window.max(1) as f64);
        let scorer = Scorer::new(baseline);
        let state = match model.method {
            Method::Threshold => State::Threshold(ThresholdMethod::new(model)),
            Method::Evidence => State::Evidence(Box::new(Tracker::new(
                model.evidence,
                model.window,
                model.adaptation.max_sequences,
                &scorer,
            ))),
        };
        Self { scorer, state }
    }

    /// Scores one window of traces.
    pub fn evaluate(&mut self, traces: &[Trace]) -> FrequencyVerdict {
        let distance = self.scorer.measure(traces);
        let baseline = &self.scorer.baseline;
        let trace_frequencies: Vec<f64> = self
            .scorer
            .sequence_ids()
            .iter()
            .map(|s| baseline.frequency(*s))
            .collect();
        let verdict = match &mut self.state {
            State::Threshold(m) => {
                let top = threshold_top(&self.scorer);
                let o = m.step(&mut self.scorer, distance);
                FrequencyVerdict {
                    distance,
                    threshold: m.threshold,
                    anomalous: o.anomalous,
                    cusum: o.cusum,
                    sustained: o.sustained,
                    rebaselined: o.rebaselined,
                    top,
                    evidence: None,
                    level: None,
                    novel: false,
                    novel_paths: Vec::new(),
                    shift: false,
                    returned: false,
                    pooled: false,
                    dispersion: None,
                    trace_novel: Vec::new(),
                    trace_surge: Vec::new(),
                    trace_divergence: Vec::new(),
                    trace_frequencies,
                }
            }
            State::Evidence(t) => {
                let novel: Vec<bool> = self
                    .scorer
                    .sequence_ids()
                    .iter()
                    .map(|s| t.novel(*s, &self.scorer.baseline))
                    .collect();
                let contributions = self.scorer.contributions(TOP);
                let o = t.step(&mut self.scorer);
                evidence_verdict(&self.scorer, o, contributions, novel, trace_frequencies, t.dispersion())
            }
        };
        self.scorer.finish();
        verdict
    }
}

/// The threshold method's explanation: the largest terms of the distance.
fn threshold_top(scorer: &Scorer) -> Vec<TopSequence> {
    let baseline = &scorer.baseline;
    scorer
        .contributions(TOP)
        .into_iter()
        .map(|s| TopSequence {
            sequence: baseline.vocab.text(s.seq),
            baseline: s.baseline,
            observed: s.observed,
            count: None,
            expected: None,
            z: None,
            novel: false,
        })
        .collect()
}

/// The evidence method's verdict: the surges first (with counts and their own z), then the largest terms of the
/// distance; never-seen paths explained against the nearest known ones.
fn evidence_verdict(
    scorer: &Scorer,
    o: Outcome,
    contributions: Vec<super::baseline::SequenceShare>,
    trace_novel: Vec<bool>,
    trace_frequencies: Vec<f64>,
    dispersion: Dispersion,
) -> FrequencyVerdict {
    let baseline = &scorer.baseline;
    let vocab = &baseline.vocab;
    let (counts, n) = scorer.counts();
    let n = n.max(1) as f64;
    let count_of = |s: SeqId| counts.binary_search_by_key(&s, |(q, _)| *q).map_or(0, |i| counts[i].1);
    let mut top: Vec<TopSequence> = o
        .surges
        .iter()
        .take(TOP)
        .map(|s| TopSequence {
            sequence: vocab.text(s.seq),
            baseline: s.expected / n,
            observed: f64::from(count_of(s.seq)) / n,
            count: Some(count_of(s.seq)),
            expected: Some(s.expected),
            z: Some(super::stats::z_of(s.p)),
            novel: s.novel,
        })
        .collect();
    for c in contributions {
        if top.len() >= TOP {
            break;
        }
        if o.surges.iter().any(|s| s.seq == c.seq) {
            continue;
        }
        top.push(TopSequence {
            sequence: vocab.text(c.seq),
            baseline: c.baseline,
            observed: c.observed,
            count: Some(count_of(c.seq)),
            expected: Some(c.baseline * n),
            z: None,
            novel: false,
        });
    }
    // Never-seen paths that are evidence: where each leaves the nearest known one.
    let mut novel_paths = Vec::new();
    let mut explained: Vec<(SeqId, String)> = Vec::new();
    if o.flagged {
        let candidates = baseline.known_by_frequency();
        for s in o.surges.iter().filter(|s| s.novel) {
            if let Some(d) = explain(vocab, s.seq, candidates.iter().copied()) {
                novel_paths.push(NovelPath {
                    sequence: vocab.text(s.seq),
                    count: count_of(s.seq),
                    nearest: vocab.text(d.nearest),
                    divergence: d.text.clone(),
                });
                explained.push((s.seq, d.text));
            }
        }
    }
    let ids = scorer.sequence_ids();
    let surged = |s: SeqId| o.flagged && o.surges.iter().any(|x| x.seq == s);
    FrequencyVerdict {
        distance: o.distance,
        threshold: o.threshold,
        anomalous: o.flagged,
        cusum: o.cusum,
        sustained: o.sustained,
        rebaselined: o.rebaselined,
        top,
        evidence: Some(o.evidence),
        level: Some(o.level),
        novel: o.novel,
        novel_paths,
        shift: o.shift,
        returned: o.returned,
        pooled: o.pooled,
        dispersion: Some(dispersion),
        trace_surge: ids.iter().map(|s| surged(*s)).collect(),
        trace_divergence: ids
            .iter()
            .map(|s| explained.iter().find(|(q, _)| q == s).map(|(_, t)| t.clone()))
            .collect(),
        trace_novel,
        trace_frequencies,
    }
}

impl Detector for FrequencyDetector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn score(&mut self, window: &Window, _evidence: &Evidence) -> WindowScore {
        let v = self.evaluate(&window.traces);
        let mut attributes = vec![
            double(DISTANCE, v.distance),
            double(THRESHOLD, v.threshold),
            double(CUSUM, v.cusum),
            boolean(SUSTAINED, v.sustained),
        ];
        attributes.extend(v.rebaselined.then(|| boolean(REBASELINED, true)));
        if let (Some(e), Some(l)) = (v.evidence, v.level) {
            attributes.push(double(EVIDENCE, e));
            attributes.push(double(LEVEL, l));
            attributes.push(boolean(NOVEL, v.novel));
            attributes.extend(v.shift.then(|| boolean(SHIFT, true)));
            attributes.extend(v.returned.then(|| boolean(RETURNED, true)));
        }
        let trace_attributes = (0..v.trace_frequencies.len())
            .map(|i| {
                let mut a = vec![double(SEQUENCE_FREQUENCY, v.trace_frequencies[i])];
                if v.trace_novel.get(i).copied().unwrap_or(false) {
                    a.push(boolean(TRACE_NOVEL, true));
                }
                if v.trace_surge.get(i).copied().unwrap_or(false) {
                    a.push(boolean(TRACE_SURGE, true));
                }
                if let Some(Some(d)) = v.trace_divergence.get(i) {
                    a.push(string(TRACE_DIVERGENCE, d.clone()));
                }
                (i, a)
            })
            .collect();
        let (score, threshold) = match (v.evidence, v.level) {
            (Some(e), Some(l)) => (e, l),
            _ => (v.distance, v.threshold),
        };
        let mut incident = Vec::new();
        if !v.novel_paths.is_empty() {
            incident.push(strings(
                NOVEL_PATHS,
                v.novel_paths
                    .iter()
                    .map(|p| format!("{} ({} traces): {}", p.divergence, p.count, p.sequence)),
            ));
        }
        WindowScore {
            detector: NAME,
            anomalous: v.anomalous || v.sustained,
            score,
            threshold,
            attributes,
            trace_attributes,
            incident_attributes: incident,
            top: v
                .top
                .into_iter()
                .map(|t| Contribution {
                    label: t.sequence,
                    expected: t.baseline,
                    observed: t.observed,
                })
                .collect(),
        }
    }
}
