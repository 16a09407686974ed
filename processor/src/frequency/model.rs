//! The frequency model file: versioned JSON, readable by people and by `spanguard inspect`.
//!
//! ```json
//! { "format": "spanguard.frequency", "version": 2, "window": 50, "k": 2.0, "method": "evidence",
//!   "calls": [["user-service", "Login"], …],
//!   "sequences": [{ "calls": [0, 1], "count": 211, "frequency": 0.1055 }, …],
//!   "validation": { "windows": 10, "distances": […], "mean": 0.17, "std": 0.02, "threshold": 0.21 },
//!   "training": { "traces": 2000, "unique_sequences": 1150, "validation_traces": 500 },
//!   "adaptation": { "alpha": 0.0, "confirm_within": 0, "beta": 0.8, "max_sequences": 100000 },
//!   "cusum": { "reference": 0.5, "threshold": 5.0 }, "statistic": { "kind": "chi", "min_frequency": 0.01 },
//!   "evidence": { "alpha": 0.005, "remix_alpha": 0.01, "adapt": 0.1, "confirm_windows": 3, "library": 8,
//!                 "dispersion": { "phi": 1.1, "kappa": 0.0 }, "cusum_reference": 1.0, "cusum_threshold": 5.0,
//!                 "rare": { "traces": 500, "rare_traces": 3, "pairs": 12250, "rare_pairs": 0 } },
//!   "siblings": "time" }
//! ```
//!
//! `siblings` says how the walk ordered siblings (`time`, the paper's order, or `concurrent`: concurrent calls
//! in a fixed order, [`super::sequence::Siblings`]); absent, `time`.
//!
//! `method` says how windows are judged: `evidence` (the default since version 2: per-sequence tests calibrated
//! by the measured noise, [`super::tracking`]) or `threshold` (the paper's `mean + k·σ` of the validation
//! distances, [`super::threshold`]); version 1 files have no `method` and are read as `threshold`, as they were
//! trained.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::baseline::{Baseline, Statistic};
use super::cusum::CusumParams;
pub use super::drift::Adaptation;
use super::sequence::{Siblings, Vocabulary};
use super::tracking::EvidenceSettings;
use crate::model_file::{read_versioned, ReadError};

/// `format` field value.
pub const FORMAT: &str = "spanguard.frequency";
/// Current `version`.
pub const VERSION: u32 = 2;
/// Versions this build reads (1: before `method`, read as the threshold method).
pub const READS: [u32; 2] = [1, 2];

/// Errors loading or saving a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// File system.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Not JSON of the expected shape.
    #[error("{path}: not a spanguard frequency model: {message}")]
    Parse { path: String, message: String },
    /// Another kind of file.
    #[error("{path}: is {what}; a frequency model is the file `spanguard train frequency --out` writes, e.g. model/frequency.json")]
    Kind { path: String, what: String },
    /// A model from an incompatible version.
    #[error("{path}: model format {format:?} version {version}; this spanguard reads {FORMAT:?} versions 1 and {VERSION}: retrain it with `spanguard train frequency`")]
    Version { path: String, format: String, version: u32 },
    /// Internally inconsistent.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// One baseline sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequenceEntry {
    /// Indices into `calls`, in walk order.
    pub calls: Vec<u32>,
    /// Training traces with this sequence.
    pub count: u64,
    /// Relative frequency in the training set.
    pub frequency: f64,
}

/// Distances of the normal validation windows and the threshold drawn from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Number of validation windows.
    pub windows: usize,
    /// Their distances, in order.
    pub distances: Vec<f64>,
    /// Mean distance.
    pub mean: f64,
    /// Sample standard deviation (n − 1).
    pub std: f64,
    /// `mean + k·std`.
    pub threshold: f64,
}

/// How the model was trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Training {
    /// Training traces.
    pub traces: u64,
    /// Distinct sequences among them.
    pub unique_sequences: usize,
    /// Validation traces used (full windows only).
    pub validation_traces: u64,
}

/// A trained frequency model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrequencyModel {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`] when written by this build.
    pub version: u32,
    /// Traces per window the model was trained for.
    pub window: usize,
    /// Threshold multiplier.
    pub k: f64,
    /// `[service, operation]` of every call.
    pub calls: Vec<[String; 2]>,
    /// The baseline.
    pub sequences: Vec<SequenceEntry>,
    /// Validation statistics and threshold.
    pub validation: Validation,
    /// Training counts.
    pub training: Training,
    /// Drift handling.
    #[serde(default)]
    pub adaptation: Adaptation,
    /// Sequential test.
    #[serde(default)]
    pub cusum: CusumParams,
    /// How windows are compared with the baseline.
    #[serde(default)]
    pub statistic: Statistic,
    /// How windows are judged.
    #[serde(default)]
    pub method: Method,
    /// The evidence method's settings and measured noise (used when `method` is `evidence`).
    #[serde(default)]
    pub evidence: EvidenceSettings,
    /// How the walk ordered siblings when the sequences were made (`time` when absent: every model written
    /// before the rule was recorded).
    #[serde(default)]
    pub siblings: Siblings,
}

/// How a model judges windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// `mean + k·σ` of the validation distances (the paper's rule; every version 1 model).
    #[default]
    Threshold,
    /// Per-sequence and whole-mix tests calibrated by the measured noise, with regime tracking.
    Evidence,
}

impl Method {
    /// Its name in `frequency.json`, on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Threshold => "threshold",
            Self::Evidence => "evidence",
        }
    }
}

impl FrequencyModel {
    /// Reads and checks a model file.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let shown = path.display().to_string();
        let model: FrequencyModel = read_versioned(path, FORMAT, &READS).map_err(|e| match e {
            ReadError::Io(source) => ModelError::Io {
                path: shown.clone(),
                source,
            },
            ReadError::Parse(message) => ModelError::Parse {
                path: shown.clone(),
                message,
            },
            ReadError::Kind(what) => ModelError::Kind {
                path: shown.clone(),
                what,
            },
            ReadError::Version { format, version } => ModelError::Version {
                path: shown.clone(),
                format,
                version,
            },
        })?;
        model
            .check()
            .map_err(|message| ModelError::Invalid { path: shown, message })?;
        Ok(model)
    }

    /// Writes the model as pretty JSON (creating parent directories).
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
                path: shown.clone(),
                source,
            })?;
        }
        let text = serde_json::to_vec_pretty(self).map_err(|e| ModelError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(path, text).map_err(|source| ModelError::Io { path: shown, source })
    }

    fn check(&self) -> Result<(), String> {
        if self.window == 0 {
            return Err("window must be at least 1".into());
        }
        let calls = self.calls.len() as u32;
        if let Some(bad) = self.sequences.iter().find(|s| s.calls.iter().any(|c| *c >= calls)) {
            return Err(format!(
                "a sequence refers to call {:?} beyond the {calls} calls listed",
                bad.calls
            ));
        }
        if !(self.validation.threshold.is_finite() && self.validation.std.is_finite()) {
            return Err("validation threshold must be a finite number".into());
        }
        let e = &self.evidence;
        let level = |x: f64| x > 0.0 && x < 1.0;
        if !(level(e.alpha) && level(e.remix_alpha) && e.adapt > 0.0 && e.adapt <= 1.0) {
            return Err("evidence.alpha and evidence.remix_alpha must be in (0, 1), evidence.adapt in (0, 1]".into());
        }
        if !(e.dispersion.phi.is_finite()
            && e.dispersion.phi >= 1.0
            && e.dispersion.kappa.is_finite()
            && e.dispersion.kappa >= 0.0)
        {
            return Err("evidence.dispersion: phi must be ≥ 1 and kappa ≥ 0".into());
        }
        Ok(())
    }

    /// The in-memory baseline (vocabulary interned, frequencies indexed by sequence id).
    pub fn baseline(&self) -> Baseline {
        let mut vocab = Vocabulary::with_siblings(self.siblings);
        let call_ids: Vec<u32> = self.calls.iter().map(|[s, o]| vocab.call(s, o)).collect();
        let mut freqs = Vec::with_capacity(self.sequences.len());
        let mut scratch = Vec::new();
        for s in &self.sequences {
            scratch.clear();
            scratch.extend(s.calls.iter().map(|c| call_ids[*c as usize]));
            let id = vocab.sequence(&scratch) as usize;
            if freqs.len() <= id {
                freqs.resize(id + 1, 0.0);
            }
            freqs[id] += s.frequency;
        }
        let mut b = Baseline::from_frequencies(vocab, freqs).with_statistic(self.statistic);
        b.set_size(self.training.traces as f64);
        b
    }
}
