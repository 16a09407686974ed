//! The hold-out evaluation (`spanguard eval frequency` without `--stream`): the first part of a normal
//! recording trains, the next validates, the rest is scored as normal windows (false alarms) and an attack
//! recording after it (detections); optionally each normal test window is also scored with a share of its
//! traces replaced by one real training trace (a burst), on a copy of the detector's state so that the stream
//! itself stays normal. The streaming evaluation, with state carried and labelled bursts, is [`super::eval`].

use serde::Serialize;

use super::detector::FrequencyDetector;
use super::sequence::{SequenceExtractor, Vocabulary};
use super::train::{train, TrainError, TrainOptions};
use super::windows::{score_windows, WindowLine};
use crate::Trace;

/// The outcome of one (window, k) setting.
#[derive(Debug, Clone, Serialize)]
pub struct EvalResult {
    /// Traces per window.
    pub window: usize,
    /// Threshold multiplier.
    pub k: f64,
    /// Normal test windows.
    pub normal_windows: usize,
    /// Attack windows.
    pub attack_windows: usize,
    /// Normal windows the single-window test flagged / normal windows.
    pub false_alarm_rate: f64,
    /// Attack windows the single-window test flagged / attack windows.
    pub detection_rate: f64,
    /// First attack window (1-based) the single-window test flagged.
    pub windows_to_detection: Option<usize>,
    /// Normal windows the CUSUM flagged / normal windows.
    pub cusum_false_alarm_rate: f64,
    /// Attack windows the CUSUM flagged / attack windows.
    pub cusum_detection_rate: f64,
    /// First attack window (1-based) the CUSUM flagged.
    pub cusum_windows_to_detection: Option<usize>,
    /// Fraction of a window replaced in the burst test.
    pub burst_fraction: Option<f64>,
    /// The burst's sequence.
    pub burst_sequence: Option<String>,
    /// Burst copies of normal windows flagged by the single-window test / normal windows.
    pub burst_detection_rate: Option<f64>,
    /// Regime changes confirmed during the normal test windows.
    pub rebaselined: usize,
}

/// The burst test's settings.
#[derive(Debug, Clone)]
pub struct Burst {
    /// Fraction of each window replaced.
    pub fraction: f64,
    /// Pick the first training trace whose sequence contains this.
    pub like: Option<String>,
}

/// Why a hold-out evaluation could not run.
#[derive(Debug, thiserror::Error)]
pub enum HoldoutError {
    /// The fractions leave nothing to test.
    #[error("--train-fraction and --validation-fraction must leave traces for training, validation and testing")]
    Split,
    /// Training failed.
    #[error("training failed")]
    Train(#[source] TrainError),
    /// No training trace qualifies for the burst.
    #[error("no training trace for the burst (--burst-like matches nothing, or no sequence occurs 3 times)")]
    NoBurstTrace,
}

/// The training trace a burst repeats, and its sequence text: the first whose sequence contains `like`, else
/// one of the rarest sequence seen at least 3 times.
fn burst_trace(training: &[Trace], like: Option<&str>) -> Option<(Trace, String)> {
    let mut vocab = Vocabulary::new();
    let mut x = SequenceExtractor::new();
    let ids: Vec<u32> = training.iter().map(|t| x.sequence(t, &mut vocab)).collect();
    let pick = match like {
        Some(p) => ids.iter().position(|s| vocab.text(*s).contains(p))?,
        None => {
            let mut counts = std::collections::HashMap::<u32, usize>::new();
            for s in &ids {
                *counts.entry(*s).or_default() += 1;
            }
            let (rarest, _) = counts
                .iter()
                .filter(|(_, c)| **c >= 3)
                .min_by_key(|(s, c)| (**c, **s))?;
            ids.iter().position(|s| s == rarest)?
        }
    };
    Some((training[pick].clone(), vocab.text(ids[pick])))
}

/// Runs one evaluation setting (`opts.window`, `opts.k`) on traces already loaded.
pub fn evaluate(
    normal: &[Trace],
    attack: &[Trace],
    burst: Option<&Burst>,
    opts: &TrainOptions,
    train_fraction: f64,
    validation_fraction: f64,
) -> Result<EvalResult, HoldoutError> {
    let window = opts.window;
    let n = normal.len();
    let t = ((n as f64) * train_fraction).round() as usize;
    let v = ((n as f64) * (train_fraction + validation_fraction)).round() as usize;
    if t == 0 || v <= t || v >= n {
        return Err(HoldoutError::Split);
    }
    let model = train(&normal[..t], &normal[t..v], opts).map_err(HoldoutError::Train)?;
    let mut det = FrequencyDetector::new(&model);
    let burst = match burst {
        Some(b) => {
            let (trace, text) = burst_trace(&normal[..t], b.like.as_deref()).ok_or(HoldoutError::NoBurstTrace)?;
            Some((b.fraction, trace, text))
        }
        None => None,
    };
    let mut burst_flagged = 0usize;
    let mut normal_lines = Vec::new();
    // Full windows only: a short last window is not comparable.
    for (i, w) in normal[v..].chunks_exact(window.max(1)).enumerate() {
        if let Some((fraction, trace, _)) = &burst {
            let replace = ((w.len() as f64) * fraction).round() as usize;
            let mut copy: Vec<Trace> = w.to_vec();
            // Spread the burst over the window rather than bunching it at the start.
            for j in 0..replace.min(copy.len()) {
                let at = j * copy.len() / replace.max(1);
                copy[at] = trace.clone();
            }
            if det.clone().evaluate(&copy).anomalous {
                burst_flagged += 1;
            }
        }
        normal_lines.extend(score_windows(&mut det, w, window).into_iter().map(|mut l| {
            l.window = i;
            l
        }));
    }
    let whole = attack.len() - attack.len() % window.max(1);
    let attack_lines = score_windows(&mut det, &attack[..whole], window);
    let rate = |lines: &[WindowLine], f: fn(&WindowLine) -> bool| {
        lines.iter().filter(|l| f(l)).count() as f64 / lines.len().max(1) as f64
    };
    let first = |f: fn(&WindowLine) -> bool| attack_lines.iter().position(f).map(|i| i + 1);
    Ok(EvalResult {
        window,
        k: opts.k,
        normal_windows: normal_lines.len(),
        attack_windows: attack_lines.len(),
        false_alarm_rate: rate(&normal_lines, |l| l.verdict.as_ref().is_some_and(|v| v.anomalous)),
        detection_rate: rate(&attack_lines, |l| l.verdict.as_ref().is_some_and(|v| v.anomalous)),
        windows_to_detection: first(|l| l.verdict.as_ref().is_some_and(|v| v.anomalous)),
        cusum_false_alarm_rate: rate(&normal_lines, |l| l.verdict.as_ref().is_some_and(|v| v.sustained)),
        cusum_detection_rate: rate(&attack_lines, |l| l.verdict.as_ref().is_some_and(|v| v.sustained)),
        cusum_windows_to_detection: first(|l| l.verdict.as_ref().is_some_and(|v| v.sustained)),
        burst_fraction: burst.as_ref().map(|b| b.0),
        burst_sequence: burst.as_ref().map(|b| b.2.clone()),
        burst_detection_rate: burst
            .as_ref()
            .map(|_| burst_flagged as f64 / normal_lines.len().max(1) as f64),
        rebaselined: normal_lines
            .iter()
            .filter(|l| l.verdict.as_ref().is_some_and(|v| v.rebaselined))
            .count(),
    })
}
