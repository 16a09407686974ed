//! spanguard's configuration, shaped like an OpenTelemetry Collector config so that users can move a pipeline
//! between the two without learning a new language:
//!
//! ```yaml
//! receivers:  { otlp: { protocols: { grpc: { endpoint: "0.0.0.0:4317" }, http: { endpoint: "0.0.0.0:4318" } } } }
//! processors: { anomaly: { trace_wait: 2s, max_traces: 100000, window: { traces: 50, timeout: 10s } } }
//! exporters:  { otlp: { endpoint: "http://127.0.0.1:14317" } }
//! service:    { pipelines: { traces: { receivers: [otlp], processors: [anomaly], exporters: [otlp] } } }
//! ```
//!
//! Every struct denies unknown keys and every error names the key path at fault (`exporters.otlp.endpoint: …`),
//! because a typo that silently falls back to a default is the worst kind of misconfiguration.

mod env;
mod error;
mod exporter;
mod load;
mod processor;
mod receiver;
mod service;
mod tls;
mod units;

pub use error::ConfigError;
pub use exporter::{
    BatchConfig, Compression, DebugExporterConfig, DebugVerbosity, ExporterConfig, FileExporterConfig, HttpEncoding,
    OtlpExporterConfig, OtlpHttpExporterConfig, QueueConfig, RetryConfig,
};
pub use load::{Config, Named};
pub use processor::{AnomalyConfig, EventSource, EventsConfig, FrequencyConfig, GraphConfig, WindowConfig};
pub use receiver::{AuthConfig, GrpcProtocol, HttpProtocol, LimitsConfig, OtlpReceiverConfig, Protocols};
pub use service::{LogEncoding, LogsConfig, MetricsConfig, PipelineConfig, Pipelines, ServiceConfig, TelemetryConfig};
pub use tls::{ClientTls, ServerTls};
pub use units::ByteSize;
