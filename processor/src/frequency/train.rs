//! Training (paper §4.2.6): the baseline is the relative frequency of each sequence over all normal training
//! traces; normal validation traces, cut into windows of `window` consecutive traces, give the distances whose
//! mean and standard deviation set the threshold `mean + k·σ` (k = 2 in the paper, §4.2.7). For the evidence
//! method the same validation windows, learned one after the other as the live detector would, measure the
//! scatter of normal windows around the reference ([`super::noise`]), which calibrates its tests.

use super::baseline::{Baseline, Statistic};
use super::cusum::CusumParams;
use super::model::{Adaptation, FrequencyModel, Method, SequenceEntry, Training, Validation, FORMAT, VERSION};
use super::noise::Dispersion;
use super::scorer::Scorer;
use super::sequence::{SequenceExtractor, Siblings, Vocabulary};
use super::tracking::{EvidenceSettings, RareClass, Tracker};
use crate::Trace;

/// Training settings.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Traces per window.
    pub window: usize,
    /// Threshold multiplier.
    pub k: f64,
    /// Drift handling (alpha 0 = the paper's fixed baseline).
    pub adaptation: Adaptation,
    /// Sequential test parameters.
    pub cusum: CusumParams,
    /// How windows are compared with the baseline (the evidence method always uses the pooled chi distance).
    pub statistic: Statistic,
    /// How windows are judged.
    pub method: Method,
    /// The evidence method's settings (its dispersion is measured here).
    pub evidence: EvidenceSettings,
    /// How sequences order siblings.
    pub siblings: Siblings,
}

impl Default for TrainOptions {
    /// The paper's method: Euclidean distance, fixed baseline, windows of 50, k = 2.
    fn default() -> Self {
        Self {
            window: 50,
            k: 2.0,
            adaptation: Adaptation::default(),
            cusum: CusumParams::default(),
            statistic: Statistic::Euclidean,
            method: Method::Threshold,
            evidence: EvidenceSettings::default(),
            siblings: Siblings::Time,
        }
    }
}

impl TrainOptions {
    /// spanguard's default: the evidence method, windows of 50.
    pub fn evidence() -> Self {
        Self {
            method: Method::Evidence,
            ..Self::default()
        }
    }
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// No training traces.
    #[error("no training traces")]
    NoTraces,
    /// Too few validation traces for a standard deviation.
    #[error("validation needs at least 2 windows of {window} traces, got {traces} traces: give more validation traces or a smaller --window")]
    TooFewValidation { window: usize, traces: usize },
    /// Bad option.
    #[error("{0}")]
    Option(String),
}

/// Mean and sample standard deviation.
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Trains a model from normal `training` traces and normal `validation` traces.
pub fn train(training: &[Trace], validation: &[Trace], opts: &TrainOptions) -> Result<FrequencyModel, TrainError> {
    if training.is_empty() {
        return Err(TrainError::NoTraces);
    }
    if opts.window == 0 || !(opts.k.is_finite() && opts.k >= 0.0) {
        return Err(TrainError::Option("--window must be ≥ 1 and --k a number ≥ 0".into()));
    }
    if !(0.0..1.0).contains(&opts.adaptation.alpha) {
        return Err(TrainError::Option("adaptation alpha must be in [0, 1)".into()));
    }
    let windows = validation.len() / opts.window;
    if windows < 2 {
        return Err(TrainError::TooFewValidation {
            window: opts.window,
            traces: validation.len(),
        });
    }

    let mut vocab = Vocabulary::with_siblings(opts.siblings);
    let mut extractor = SequenceExtractor::new();
    let mut counts: Vec<u64> = Vec::new();
    for t in training {
        let id = extractor.sequence(t, &mut vocab) as usize;
        if counts.len() <= id {
            counts.resize(id + 1, 0);
        }
        counts[id] += 1;
    }
    let total = training.len() as f64;
    let calls: Vec<[String; 2]> = vocab.call_names().map(|(s, o)| [s.to_owned(), o.to_owned()]).collect();
    let sequences: Vec<SequenceEntry> = counts
        .iter()
        .enumerate()
        .map(|(id, c)| SequenceEntry {
            calls: vocab.calls_of(id as u32).to_vec(),
            count: *c,
            frequency: *c as f64 / total,
        })
        .collect();
    let unique = sequences.len();

    let statistic = match opts.method {
        Method::Threshold => opts.statistic,
        Method::Evidence => Statistic::Chi {
            min_frequency: 1.0 / (2.0 * opts.window as f64),
        },
    };
    let baseline = Baseline::from_counts(vocab, &counts).with_statistic(statistic);
    let mut evidence = opts.evidence;
    if opts.method == Method::Evidence {
        (evidence.dispersion, evidence.rare) = measure_noise(baseline.clone(), validation, opts);
    }
    let mut scorer = Scorer::new(baseline);
    let mut distances = Vec::with_capacity(windows);
    for w in validation.chunks_exact(opts.window) {
        distances.push(scorer.measure(w));
        // Validation windows are normal by definition: an adaptive baseline follows them, as it will in service.
        scorer.adapt(opts.adaptation.alpha, opts.adaptation.max_sequences);
        scorer.finish();
    }
    let (mean, std) = mean_std(&distances);
    Ok(FrequencyModel {
        format: FORMAT.to_owned(),
        version: VERSION,
        window: opts.window,
        k: opts.k,
        calls,
        sequences,
        validation: Validation {
            windows,
            distances,
            mean,
            std,
            threshold: mean + opts.k * std,
        },
        training: Training {
            traces: training.len() as u64,
            unique_sequences: unique,
            validation_traces: (windows * opts.window) as u64,
        },
        adaptation: opts.adaptation,
        cusum: opts.cusum,
        statistic,
        method: opts.method,
        evidence,
        siblings: opts.siblings,
    })
}

/// The scatter of the validation windows around the reference and their rare class, each window learned after
/// it is measured (normal by definition), exactly as the live detector learns.
fn measure_noise(baseline: Baseline, validation: &[Trace], opts: &TrainOptions) -> (Dispersion, RareClass) {
    let mut scorer = Scorer::new(baseline.with_frequent_floor(0.25 / opts.window as f64));
    let mut tracker = Tracker::new(opts.evidence, opts.window, opts.adaptation.max_sequences, &scorer);
    for w in validation.chunks_exact(opts.window) {
        scorer.measure(w);
        tracker.learn_normal(&mut scorer);
        scorer.finish();
    }
    (tracker.dispersion(), tracker.rare_class())
}
