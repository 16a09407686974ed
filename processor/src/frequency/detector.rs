//! The frequency detector in the pipeline and the offline commands.

use serde::Serialize;

use super::cusum::{Cusum, CusumParams};
use super::drift::{Adaptation, Candidates};
use super::model::FrequencyModel;
use super::scorer::Scorer;
use crate::attributes::{boolean, double};
use crate::{Contribution, Detector, Trace, Window, WindowScore};

/// `anomaly.frequency.distance`: the window's Euclidean distance from the baseline (double).
pub const DISTANCE: &str = "anomaly.frequency.distance";
/// `anomaly.frequency.threshold`: the threshold it was compared with (double).
pub const THRESHOLD: &str = "anomaly.frequency.threshold";
/// `anomaly.frequency.cusum`: the sequential statistic, in σ (double).
pub const CUSUM: &str = "anomaly.frequency.cusum";
/// `anomaly.frequency.sustained`: the sequential test's own verdict (bool).
pub const SUSTAINED: &str = "anomaly.frequency.sustained";
/// `anomaly.frequency.rebaselined`: present and true on the window that confirmed a regime change (bool).
pub const REBASELINED: &str = "anomaly.frequency.rebaselined";
/// `anomaly.trace.sequence_frequency`: on root spans, the baseline frequency of the trace's sequence (0 = never
/// seen in normal traffic).
pub const SEQUENCE_FREQUENCY: &str = "anomaly.trace.sequence_frequency";

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
}

/// The frequency detector's verdict on one window.
#[derive(Debug, Clone, Serialize)]
pub struct FrequencyVerdict {
    /// Distance from the baseline.
    pub distance: f64,
    /// Single-window threshold.
    pub threshold: f64,
    /// Single-window test fired.
    pub anomalous: bool,
    /// CUSUM statistic reached in this window, in σ.
    pub cusum: f64,
    /// CUSUM alarm.
    pub sustained: bool,
    /// This window confirmed a regime change and the baseline moved to it.
    pub rebaselined: bool,
    /// Largest contributions.
    pub top: Vec<TopSequence>,
    /// Baseline frequency of each trace's sequence, in window order.
    #[serde(skip)]
    pub trace_frequencies: Vec<f64>,
}

/// Scores windows with a trained [`FrequencyModel`].
#[derive(Clone)]
pub struct FrequencyDetector {
    scorer: Scorer,
    threshold: f64,
    agree_within: f64,
    adaptation: Adaptation,
    cusum_params: CusumParams,
    cusum: Cusum,
    candidates: Candidates,
    /// Windows behind the baseline since the last re-baselining (0 = the trained baseline).
    since_rebaseline: usize,
}

impl FrequencyDetector {
    /// A detector for `model`.
    pub fn new(model: &FrequencyModel) -> Self {
        Self {
            scorer: Scorer::new(model.baseline()),
            threshold: model.validation.threshold,
            // Two windows of one distribution differ by about √2 times a window's typical distance from it.
            agree_within: model.validation.mean * std::f64::consts::SQRT_2,
            adaptation: model.adaptation,
            cusum_params: model.cusum,
            cusum: Cusum::new(&model.validation.distances, model.validation.std / 4.0),
            candidates: Candidates::default(),
            since_rebaseline: 0,
        }
    }

    /// Scores one window of traces.
    pub fn evaluate(&mut self, traces: &[Trace]) -> FrequencyVerdict {
        let distance = self.scorer.measure(traces);
        let anomalous = distance > self.threshold;
        let (cusum, sustained) = self.cusum.update(distance, anomalous, &self.cusum_params);
        let baseline = &self.scorer.baseline;
        let trace_frequencies = self
            .scorer
            .sequence_ids()
            .iter()
            .map(|s| baseline.frequency(*s))
            .collect();
        let top = self
            .scorer
            .contributions(TOP)
            .into_iter()
            .map(|s| TopSequence {
                sequence: baseline.vocab.text(s.seq),
                baseline: s.baseline,
                observed: s.observed,
            })
            .collect();
        let a = self.adaptation;
        let mut rebaselined = false;
        if !anomalous && !sustained {
            // Slow adaptation learns only from windows judged normal, or an attack would become normal. Right
            // after a re-baselining the baseline rests on two windows: it first becomes their running mean.
            let step = if self.since_rebaseline > 0 {
                self.since_rebaseline += 1;
                a.alpha.max(1.0 / self.since_rebaseline as f64)
            } else {
                a.alpha
            };
            self.scorer.adapt(step, a.max_sequences);
        } else if anomalous && a.confirm_within > 0 {
            let (counts, n) = self.scorer.counts();
            match self
                .candidates
                .confirm(&self.scorer.baseline, counts, n, self.agree_within)
            {
                Some((other, n_other)) => {
                    let other = other.to_vec();
                    self.scorer.rebaseline(&other, n_other, a.beta, a.max_sequences);
                    self.candidates.clear();
                    self.cusum.reset();
                    self.since_rebaseline = 2;
                    rebaselined = true;
                    tracing::warn!(
                        distance,
                        "frequency: persistent change in the traffic mix confirmed; baseline re-learned"
                    );
                }
                None => {
                    self.scorer.keep_window_sequences();
                    let (counts, n) = self.scorer.counts();
                    self.candidates.push(counts, n);
                }
            }
        }
        self.candidates.tick(a.confirm_within.max(1));
        self.scorer.finish();
        FrequencyVerdict {
            distance,
            threshold: self.threshold,
            anomalous,
            cusum,
            sustained,
            rebaselined,
            top,
            trace_frequencies,
        }
    }
}

impl Detector for FrequencyDetector {
    fn name(&self) -> &'static str {
        "frequency"
    }

    fn score(&mut self, window: &Window) -> WindowScore {
        let v = self.evaluate(&window.traces);
        WindowScore {
            detector: "frequency",
            anomalous: v.anomalous || v.sustained,
            score: v.distance,
            threshold: v.threshold,
            attributes: vec![
                double(DISTANCE, v.distance),
                double(THRESHOLD, v.threshold),
                double(CUSUM, v.cusum),
                boolean(SUSTAINED, v.sustained),
            ]
            .into_iter()
            .chain(v.rebaselined.then(|| boolean(REBASELINED, true)))
            .collect(),
            trace_attributes: v
                .trace_frequencies
                .iter()
                .enumerate()
                .map(|(i, f)| (i, vec![double(SEQUENCE_FREQUENCY, *f)]))
                .collect(),
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
