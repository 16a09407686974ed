//! The graph model: `graph.json` (versioned, readable) beside `autoencoder.onnx`.
//!
//! ```json
//! { "format": "spanguard.graph", "version": 1, "interval_ms": 5000, "onnx": "autoencoder.onnx",
//!   "edges": [{ "src": "enb/enb-s#ap", "dst": "mme", "group": 0, "max_log_bytes": 9.21 }, …],
//!   "groups": [{ "service": "enb", "edges": [0, 1] }, …],
//!   "architecture": { "hidden": [4, …], "bottleneck": 6 },
//!   "threshold": { "value": 0.0021, "rule": "…", "mean": …, "std": …, "max": …, "intervals": 36, "out_of_fold": 144,
//!                  "out_of_fold_scale": 0.7 },
//!   "volume": { "value": 0.83, "rule": "…", "max": 0.75, "intervals": 180 },
//!   "unknown_edge_policy": "communication", "training": { "intervals": 144, "events": 98311, "epochs": 300, "loss": … } }
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::roles::is_communication;
use crate::model_file::{read_versioned, ReadError};

/// `format` field value.
pub const FORMAT: &str = "spanguard.graph";
/// Current `version`.
pub const VERSION: u32 = 1;

/// One input edge of the autoencoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EdgeEntry {
    /// Source role.
    pub src: String,
    /// Destination role.
    pub dst: String,
    /// Index into `groups`.
    pub group: usize,
    /// `ln(1 + bytes)` of its busiest training interval: the feature is `ln(1 + bytes) / max_log_bytes`.
    pub max_log_bytes: f64,
    /// Standard deviation of the edge's reconstruction residual over the training intervals: residuals are
    /// scored in units of it, so an edge that is always reconstructed closely counts its deviations for more.
    #[serde(default = "default_residual_std")]
    pub residual_std: f64,
}

fn default_residual_std() -> f64 {
    1.0
}

impl EdgeEntry {
    /// `src->dst`.
    pub fn name(&self) -> String {
        format!("{}->{}", self.src, self.dst)
    }

    /// A socket or pipe between a process and its peer: neither end a file or memory.
    pub fn is_communication(&self) -> bool {
        is_communication(&self.src, &self.dst)
    }

    /// The bytes a feature value stands for (the inverse of `ln(1 + bytes) / max_log_bytes`).
    pub fn bytes_of(&self, feature: f32) -> f64 {
        (f64::from(feature) * self.max_log_bytes).exp_m1()
    }

    /// Bytes of its busiest training interval.
    pub fn max_bytes(&self) -> f64 {
        self.bytes_of(1.0)
    }
}

/// A microservice and its edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupEntry {
    /// Process role.
    pub service: String,
    /// Indices into `edges`.
    pub edges: Vec<usize>,
}

/// Network sizes (the groups are in `groups`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArchitectureEntry {
    /// Hidden units per group.
    pub hidden: Vec<usize>,
    /// Bottleneck units.
    pub bottleneck: usize,
}

/// The decision threshold and how it was drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Scores above it are anomalous.
    pub value: f64,
    /// The rule, in words.
    pub rule: String,
    /// Mean calibration score.
    pub mean: f64,
    /// Standard deviation of calibration scores.
    pub std: f64,
    /// Largest calibration score.
    pub max: f64,
    /// Validation intervals among the calibration scores.
    pub intervals: usize,
    /// Training intervals among them, each scored by the network that did not see it (0 in models trained
    /// before they counted).
    #[serde(default)]
    pub out_of_fold: usize,
    /// What their scores were multiplied by: the trained network's mean score over the fold networks' on the
    /// validation intervals (at most 1).
    #[serde(default = "one")]
    pub out_of_fold_scale: f64,
}

fn one() -> f64 {
    1.0
}

/// The volume rule's threshold: how far a communication edge may carry more than in its busiest training
/// interval, in nats of bytes (`ln` of the ratio), before the interval is anomalous.
///
/// The autoencoder's output is bounded by what training saw, and its score is a mean over every edge of the
/// vocabulary: one edge carrying a thousand times its usual bytes (a table dumped through a search endpoint)
/// moves the mean little when a hundred edges are quiet. More data on a conversation than ever in training is
/// evidence of its own, as a never-seen edge is; how much more normal operation produces is measured, like the
/// reconstruction threshold, on data the model did not see (see [`super::train`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeThreshold {
    /// Excess (nats) above which an interval is anomalous.
    pub value: f64,
    /// The rule, in words.
    pub rule: String,
    /// Largest calibration excess.
    pub max: f64,
    /// Calibration intervals.
    pub intervals: usize,
}

/// What never-seen edges do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum UnknownEdgePolicy {
    /// An interval with an edge never seen in training is anomalous by itself (the paper's behaviour: a new
    /// data exchange is new behaviour).
    Alert,
    /// A never-seen *communication* is anomalous by itself: a socket or pipe edge between a microservice and a
    /// peer it never talked to (another service, a port), or from a program never seen in it (a shell, a client
    /// tool). Reported and left to the reconstruction error: a never-seen access of a file or of a process's own
    /// memory, a known conversation held by another thread of the same service, and a known program talking to
    /// its own service (a forked child's pipe to its parent). Real processes open files they did not open
    /// yesterday (a lazily imported module, a new log segment, a locale file a restarted worker reads) while
    /// their communication partners stay fixed; the paper (§8) names frequent pattern changes as its source of
    /// false alarms. The trade-off: a known role reading a file it never read, with no new communication, is not
    /// flagged by this rule alone.
    #[default]
    Communication,
    /// Reported, but only the reconstruction error decides.
    Ignore,
}

impl UnknownEdgePolicy {
    /// Its name in `graph.json`, on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Alert => "alert",
            Self::Communication => "communication",
            Self::Ignore => "ignore",
        }
    }
}

/// Training statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingStats {
    /// Training intervals.
    pub intervals: usize,
    /// Events in them.
    pub events: u64,
    /// Epochs run.
    pub epochs: usize,
    /// Final mean training loss.
    pub loss: f64,
}

/// A trained graph model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphModel {
    /// Always [`FORMAT`].
    pub format: String,
    /// Always [`VERSION`].
    pub version: u32,
    /// Interval length, ms.
    pub interval_ms: u64,
    /// ONNX file name, relative to the model directory.
    pub onnx: String,
    /// Input edges, in autoencoder column order.
    pub edges: Vec<EdgeEntry>,
    /// Microservices and their edges.
    pub groups: Vec<GroupEntry>,
    /// Network sizes.
    pub architecture: ArchitectureEntry,
    /// Decision threshold.
    pub threshold: Threshold,
    /// Never-seen edges.
    #[serde(default)]
    pub unknown_edge_policy: UnknownEdgePolicy,
    /// The volume rule; absent in models trained before it, which then judge by the reconstruction alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeThreshold>,
    /// Training statistics.
    pub training: TrainingStats,
}

/// Errors loading or saving a graph model.
#[derive(Debug, thiserror::Error)]
pub enum GraphModelError {
    /// File system.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Not a graph model.
    #[error("{path}: not a spanguard graph model: {message}")]
    Parse { path: String, message: String },
    /// Another kind of file.
    #[error("{path}: is {what}; a graph model is the directory `spanguard train graph --out` writes (graph.json + autoencoder.onnx), e.g. model/graph/")]
    Kind { path: String, what: String },
    /// Wrong version.
    #[error("{path}: model format {format:?} version {version}; this spanguard reads {FORMAT:?} version {VERSION}: retrain it with `spanguard train graph`")]
    Version { path: String, format: String, version: u32 },
    /// Inconsistent.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl GraphModel {
    /// The `graph.json` of a model directory.
    pub fn json_path(dir: &Path) -> PathBuf {
        dir.join("graph.json")
    }

    /// The ONNX file of a model directory.
    pub fn onnx_path(&self, dir: &Path) -> PathBuf {
        dir.join(&self.onnx)
    }

    /// Interval length, ns.
    pub fn interval_ns(&self) -> u64 {
        self.interval_ms.saturating_mul(1_000_000)
    }

    /// Reads and checks `dir/graph.json`.
    pub fn load(dir: &Path) -> Result<Self, GraphModelError> {
        if dir.is_file() {
            return Err(GraphModelError::Kind {
                path: dir.display().to_string(),
                what: crate::model_file::describe(dir),
            });
        }
        let path = Self::json_path(dir);
        let shown = path.display().to_string();
        let m: GraphModel = read_versioned(&path, FORMAT, &[VERSION]).map_err(|e| match e {
            ReadError::Io(source) => GraphModelError::Io {
                path: shown.clone(),
                source,
            },
            ReadError::Parse(message) => GraphModelError::Parse {
                path: shown.clone(),
                message,
            },
            ReadError::Kind(what) => GraphModelError::Kind {
                path: shown.clone(),
                what,
            },
            ReadError::Version { format, version } => GraphModelError::Version {
                path: shown.clone(),
                format,
                version,
            },
        })?;
        let bad = |message: String| GraphModelError::Invalid {
            path: shown.clone(),
            message,
        };
        if m.interval_ms == 0 {
            return Err(bad("interval_ms must be positive".into()));
        }
        if m.groups.len() != m.architecture.hidden.len() {
            return Err(bad("one hidden size per group expected".into()));
        }
        let e = m.edges.len();
        if m.groups.iter().flat_map(|g| &g.edges).any(|i| *i >= e) || m.edges.iter().any(|x| x.group >= m.groups.len())
        {
            return Err(bad("an edge or group index is out of range".into()));
        }
        Ok(m)
    }

    /// Writes `dir/graph.json` (the ONNX file is written by training).
    pub fn save(&self, dir: &Path) -> Result<(), GraphModelError> {
        let path = Self::json_path(dir);
        let shown = path.display().to_string();
        std::fs::create_dir_all(dir).map_err(|source| GraphModelError::Io {
            path: shown.clone(),
            source,
        })?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| GraphModelError::Parse {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&path, text).map_err(|source| GraphModelError::Io { path: shown, source })
    }
}
