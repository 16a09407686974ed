//! The frequency detector in the pipeline and the offline commands.

use serde::Serialize;

use super::cusum::{Cusum, CusumParams};
use super::model::{Adaptation, FrequencyModel};
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
    /// CUSUM statistic after this window.
    pub cusum: f64,
    /// CUSUM alarm.
    pub sustained: bool,
    /// Largest contributions.
    pub top: Vec<TopSequence>,
    /// Baseline frequency of each trace's sequence, in window order.
    #[serde(skip)]
    pub trace_frequencies: Vec<f64>,
}

/// Scores windows with a trained [`FrequencyModel`].
pub struct FrequencyDetector {
    scorer: Scorer,
    threshold: f64,
    mean: f64,
    std: f64,
    adaptation: Adaptation,
    cusum_params: CusumParams,
    cusum: Cusum,
}

impl FrequencyDetector {
    /// A detector for `model`.
    pub fn new(model: &FrequencyModel) -> Self {
        Self {
            scorer: Scorer::new(model.baseline()),
            threshold: model.validation.threshold,
            mean: model.validation.mean,
            std: model.validation.std,
            adaptation: model.adaptation,
            cusum_params: model.cusum,
            cusum: Cusum::default(),
        }
    }

    /// Scores one window of traces.
    pub fn evaluate(&mut self, traces: &[Trace]) -> FrequencyVerdict {
        let distance = self.scorer.measure(traces);
        let anomalous = distance > self.threshold;
        let z = if self.std > 0.0 {
            (distance - self.mean) / self.std
        } else {
            0.0
        };
        let (cusum, sustained) = self.cusum.update(z, &self.cusum_params);
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
        // An adaptive baseline refuses to learn from windows it flags, or an attack would become normal.
        if !anomalous && !sustained {
            self.scorer.adapt(self.adaptation.alpha, self.adaptation.max_sequences);
        }
        self.scorer.finish();
        FrequencyVerdict {
            distance,
            threshold: self.threshold,
            anomalous,
            cusum,
            sustained,
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
            ],
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
