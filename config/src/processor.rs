use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::ConfigError;

/// `processors.anomaly`: trace assembly, windowing and the detector chain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyConfig {
    /// A trace is complete this long after its last span arrived.
    #[serde(default = "default_trace_wait", with = "humantime_serde")]
    pub trace_wait: Duration,
    /// Traces being assembled at once; over it the oldest is completed early (and counted).
    #[serde(default = "default_max_traces")]
    pub max_traces: usize,
    /// Spans being assembled at once; over it the oldest trace is completed early (and counted). Bounds memory
    /// even when a few traces are huge.
    #[serde(default = "default_max_spans")]
    pub max_spans: usize,
    /// Requests waiting between the receivers and the assembler; when full, receivers answer 429 / UNAVAILABLE.
    #[serde(default = "default_queue_size")]
    pub queue_size: usize,
    /// What the pipeline may hold of accepted spans — their requests' bodies and per-span bookkeeping, from
    /// the receiver to the exporter's queue; above it, receivers answer 429 / UNAVAILABLE (the collector's
    /// `memory_limiter`, as one number). The process's resident memory is this plus a fixed overhead
    /// (BENCHMARKS.md).
    #[serde(default = "default_memory_limit")]
    pub memory_limit: crate::ByteSize,
    /// How completed traces are grouped for scoring.
    #[serde(default)]
    pub window: WindowConfig,
    /// The frequency detector; absent = not run.
    #[serde(default)]
    pub frequency: Option<FrequencyConfig>,
    /// The graph detector; absent = not run.
    #[serde(default)]
    pub graph: Option<GraphConfig>,
    /// Emit one incident span (service `spanguard`, name `anomaly.window`) per anomalous window, linking to the
    /// window's traces, so incidents are listed in Jaeger as traces of their own.
    #[serde(default = "default_true")]
    pub incidents: bool,
}

/// `processors.anomaly.graph`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphConfig {
    /// A model directory written by `spanguard train graph` (graph.json + autoencoder.onnx).
    pub model: PathBuf,
    /// Where exchange events come from.
    #[serde(default)]
    pub events: EventsConfig,
}

/// `processors.anomaly.graph.events`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsConfig {
    /// `file` (JSON lines, followed as they are appended), `ebpf` (the in-process probe), `procfs` (the
    /// unprivileged, coarser fallback) or `none`.
    #[serde(default)]
    pub source: EventSource,
    /// The events file, for `source: file`.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// For `ebpf`/`procfs`: how often aggregates become events.
    #[serde(default = "default_probe_interval", with = "humantime_serde")]
    pub interval: Duration,
    /// For `ebpf`/`procfs`: watch only processes in these cgroup-v2 directories (containers).
    #[serde(default)]
    pub cgroups: Vec<PathBuf>,
    /// For `ebpf`/`procfs`: watch only these processes.
    #[serde(default)]
    pub pids: Vec<u32>,
    /// For `ebpf`/`procfs`: microservice names, `pattern: name`, the pattern matching a container id prefix, a
    /// cgroup path fragment, or an executable path or file name.
    #[serde(default)]
    pub services: std::collections::BTreeMap<String, String>,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            source: EventSource::None,
            path: None,
            interval: default_probe_interval(),
            cgroups: Vec::new(),
            pids: Vec::new(),
            services: Default::default(),
        }
    }
}

/// Fits a sidecar with a 512 MiB limit, with room for the overhead above it.
fn default_memory_limit() -> crate::ByteSize {
    crate::ByteSize(256 << 20)
}

fn default_probe_interval() -> Duration {
    Duration::from_secs(1)
}

/// `processors.anomaly.graph.events.source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    /// Follow a JSON-lines file.
    File,
    /// The eBPF probe, in process.
    Ebpf,
    /// The unprivileged fallback: /proc/<pid>/io and sock_diag TCP counters.
    Procfs,
    /// No events: the detector reports nothing.
    #[default]
    None,
}

impl EventSource {
    /// Every source, in the order configs and `--help` list them.
    pub const ALL: [EventSource; 4] = [Self::File, Self::Ebpf, Self::Procfs, Self::None];

    /// Its name in configs and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Ebpf => "ebpf",
            Self::Procfs => "procfs",
            Self::None => "none",
        }
    }

    /// The source of that name (`name()`'s inverse).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// `processors.anomaly.frequency`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrequencyConfig {
    /// A model written by `spanguard train frequency`.
    pub model: PathBuf,
}

/// `processors.anomaly.window`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// A window closes when it holds this many traces (the paper's 50).
    #[serde(default = "default_window_traces")]
    pub traces: usize,
    /// …or this long after it opened, whichever comes first (then it is marked partial).
    #[serde(default = "default_window_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for WindowConfig {
    fn default() -> Self {
        Self {
            traces: default_window_traces(),
            timeout: default_window_timeout(),
        }
    }
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        Self {
            trace_wait: default_trace_wait(),
            max_traces: default_max_traces(),
            max_spans: default_max_spans(),
            queue_size: default_queue_size(),
            memory_limit: default_memory_limit(),
            window: WindowConfig::default(),
            frequency: None,
            graph: None,
            incidents: true,
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_trace_wait() -> Duration {
    Duration::from_secs(2)
}
fn default_max_traces() -> usize {
    100_000
}
fn default_max_spans() -> usize {
    2_000_000
}
fn default_queue_size() -> usize {
    256
}
fn default_window_traces() -> usize {
    50
}
fn default_window_timeout() -> Duration {
    Duration::from_secs(10)
}

impl AnomalyConfig {
    pub(crate) fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let positive = |key: &str, v: usize, hint: &str| {
            if v == 0 {
                Err(ConfigError::key(
                    format!("{path}.{key}"),
                    format!("must be at least 1; {hint}"),
                ))
            } else {
                Ok(())
            }
        };
        positive("max_traces", self.max_traces, "the default is 100000")?;
        positive("max_spans", self.max_spans, "the default is 2000000")?;
        positive("queue_size", self.queue_size, "the default is 256")?;
        if self.memory_limit.0 < 16 << 20 {
            return Err(ConfigError::key(
                format!("{path}.memory_limit"),
                "must be at least 16MiB; the default is 256MiB",
            ));
        }
        positive("window.traces", self.window.traces, "the paper uses 50")?;
        if let Some(f) = &self.frequency {
            if !f.model.is_file() {
                let found = if f.model.join("graph.json").is_file() {
                    "is a graph model's directory; the frequency model is a file (e.g. model/frequency.json)"
                } else if f.model.is_dir() {
                    "is a directory; the frequency model is a file (e.g. model/frequency.json)"
                } else {
                    "does not exist"
                };
                return Err(ConfigError::key(
                    format!("{path}.frequency.model"),
                    format!(
                        "{} {found}: train one with `spanguard train frequency --out {}`",
                        f.model.display(),
                        f.model.display()
                    ),
                ));
            }
        }
        if let Some(g) = &self.graph {
            if !g.model.join("graph.json").is_file() {
                let found = if g.model.is_file() {
                    "is a file (a frequency model?); the graph model is a directory with graph.json and autoencoder.onnx"
                } else if g.model.is_dir() {
                    "holds no graph.json"
                } else {
                    "does not exist"
                };
                return Err(ConfigError::key(
                    format!("{path}.graph.model"),
                    format!(
                        "{} {found}: train one with `spanguard train graph --out {}`",
                        g.model.display(),
                        g.model.display()
                    ),
                ));
            }
            if g.events.interval.is_zero() {
                return Err(ConfigError::key(
                    format!("{path}.graph.events.interval"),
                    "must be longer than 0s; the default is 1s",
                ));
            }
            if !g.events.cgroups.is_empty() && !g.events.pids.is_empty() {
                return Err(ConfigError::key(
                    format!("{path}.graph.events.pids"),
                    "give cgroups or pids, not both",
                ));
            }
            if g.events.source == EventSource::File && g.events.path.is_none() {
                return Err(ConfigError::key(
                    format!("{path}.graph.events.path"),
                    "is required with source: file, e.g. path: events.jsonl",
                ));
            }
        }
        if self.window.timeout.is_zero() {
            return Err(ConfigError::key(
                format!("{path}.window.timeout"),
                "must be longer than 0s; the default is 10s",
            ));
        }
        Ok(())
    }
}
