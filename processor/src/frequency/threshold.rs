//! The validation-threshold method: the paper's (§4.2.7, `mean + k·σ` of the distances of normal validation
//! windows, a fixed baseline: `--paper`), and its earlier extensions kept for models trained with them (the chi
//! statistic, slow adaptation, re-baselining on two agreeing flagged windows, a CUSUM of the standardized
//! distance; see [`super::drift`] and [`super::cusum`]).

use super::cusum::{Cusum, CusumParams};
use super::drift::{Adaptation, Candidates};
use super::model::FrequencyModel;
use super::scorer::Scorer;

/// What the method said about one window.
#[derive(Debug, Clone, Copy)]
pub struct ThresholdOutcome {
    /// The distance exceeded the threshold.
    pub anomalous: bool,
    /// The CUSUM statistic reached, in σ.
    pub cusum: f64,
    /// The CUSUM alarmed.
    pub sustained: bool,
    /// A regime change was confirmed and the baseline moved.
    pub rebaselined: bool,
}

/// The method's state across windows.
#[derive(Clone)]
pub struct ThresholdMethod {
    /// `mean + k·σ` of the validation distances.
    pub threshold: f64,
    agree_within: f64,
    adaptation: Adaptation,
    cusum_params: CusumParams,
    cusum: Cusum,
    candidates: Candidates,
    /// Windows behind the baseline since the last re-baselining (0 = the trained baseline).
    since_rebaseline: usize,
}

impl ThresholdMethod {
    /// The method as `model` was trained for.
    pub fn new(model: &FrequencyModel) -> Self {
        Self {
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

    /// Judges the window measured in `scorer` (at `distance`) and moves the baseline as the settings say.
    pub fn step(&mut self, scorer: &mut Scorer, distance: f64) -> ThresholdOutcome {
        let anomalous = distance > self.threshold;
        let (cusum, sustained) = self.cusum.update(distance, anomalous, &self.cusum_params);
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
            scorer.adapt(step, a.max_sequences);
        } else if anomalous && a.confirm_within > 0 {
            let (counts, n) = scorer.counts();
            match self.candidates.confirm(&scorer.baseline, counts, n, self.agree_within) {
                Some((other, n_other)) => {
                    let other = other.to_vec();
                    scorer.rebaseline(&other, n_other, a.beta, a.max_sequences);
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
                    scorer.keep_window_sequences();
                    let (counts, n) = scorer.counts();
                    self.candidates.push(counts, n);
                }
            }
        }
        self.candidates.tick(a.confirm_within.max(1));
        ThresholdOutcome {
            anomalous,
            cusum,
            sustained,
            rebaselined,
        }
    }
}
