use std::time::Duration;

use serde::Deserialize;

/// `service`: which components form the pipeline, and spanguard's own telemetry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The pipelines; spanguard has exactly one, `traces`.
    pub pipelines: Pipelines,
    /// Metrics and logs of spanguard itself.
    #[serde(default)]
    pub telemetry: TelemetryConfig,
    /// On SIGTERM/SIGINT, how long to wait for in-flight traces and queued batches to be delivered.
    #[serde(default = "default_shutdown_timeout", with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

/// `service.pipelines`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipelines {
    /// The traces pipeline.
    pub traces: PipelineConfig,
}

/// `service.pipelines.traces`: component names, as keyed under `receivers`, `processors`, `exporters`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Receivers feeding the pipeline.
    pub receivers: Vec<String>,
    /// Processors, in order; spanguard has one, `anomaly`.
    #[serde(default)]
    pub processors: Vec<String>,
    /// Exporters; each receives every span (fan-out).
    pub exporters: Vec<String>,
}

/// `service.telemetry`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// Log level and format.
    #[serde(default)]
    pub logs: LogsConfig,
}

/// `service.telemetry.metrics`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// `host:port` serving `/metrics` and `/healthz`; empty string turns it off.
    #[serde(default = "default_metrics_address")]
    pub address: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            address: default_metrics_address(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum LogEncoding {
    /// Human-readable, one line per event.
    #[default]
    Console,
    /// One JSON object per line.
    Json,
}

/// `service.telemetry.logs`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogsConfig {
    /// `error`, `warn`, `info`, `debug` or `trace` (or a full `tracing` filter).
    #[serde(default = "default_level")]
    pub level: String,
    /// Line format.
    #[serde(default)]
    pub encoding: LogEncoding,
}

impl Default for LogsConfig {
    fn default() -> Self {
        Self {
            level: default_level(),
            encoding: LogEncoding::Console,
        }
    }
}

fn default_metrics_address() -> String {
    "127.0.0.1:8888".to_owned()
}
fn default_level() -> String {
    "info".to_owned()
}
fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(10)
}
