use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::{ClientTls, ConfigError};

/// One configured exporter; the YAML key's type part (`otlp`, `otlphttp`, `file`, `debug`, before any `/name`)
/// selects the variant.
#[derive(Debug, Clone)]
pub enum ExporterConfig {
    /// OTLP/gRPC to the next hop.
    Otlp(OtlpExporterConfig),
    /// OTLP/HTTP (protobuf or JSON) to the next hop.
    OtlpHttp(OtlpHttpExporterConfig),
    /// OTLP/JSON lines to a file, one `ExportTraceServiceRequest` per line.
    File(FileExporterConfig),
    /// A log line per batch; for trying things out.
    Debug(DebugExporterConfig),
}

impl ExporterConfig {
    /// Where it sends, for people: the URL, the file, or `log`.
    pub fn destination(&self) -> String {
        match self {
            Self::Otlp(c) => c.endpoint.clone(),
            Self::OtlpHttp(c) => c.url(),
            Self::File(c) => c.path.display().to_string(),
            Self::Debug(_) => "log".to_owned(),
        }
    }

    /// The batching, queueing and retry settings every exporter shares.
    pub fn delivery(&self) -> (&BatchConfig, &QueueConfig, &RetryConfig) {
        match self {
            ExporterConfig::Otlp(c) => (&c.batch, &c.sending_queue, &c.retry_on_failure),
            ExporterConfig::OtlpHttp(c) => (&c.batch, &c.sending_queue, &c.retry_on_failure),
            ExporterConfig::File(c) => (&c.batch, &c.sending_queue, &c.retry_on_failure),
            ExporterConfig::Debug(c) => (&c.batch, &c.sending_queue, &c.retry_on_failure),
        }
    }
}

/// Payload compression on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// No compression: the right choice for a sidecar on loopback, where gzip costs CPU and saves nothing.
    #[default]
    None,
    /// gzip: the right choice across a network.
    Gzip,
}

/// `exporters.otlp`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpExporterConfig {
    /// `http://host:port` (or `https://`) of the next OTLP/gRPC hop.
    pub endpoint: String,
    /// Wire compression.
    #[serde(default)]
    pub compression: Compression,
    /// Deadline of one export call.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Extra request metadata, e.g. an `authorization` header.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How an `https://` endpoint is verified (CA, client certificate, server name); `https://` without it
    /// verifies against the system's roots.
    #[serde(default)]
    pub tls: Option<ClientTls>,
    /// How spans are grouped into requests.
    #[serde(default)]
    pub batch: BatchConfig,
    /// The bounded queue in front of the network.
    #[serde(default)]
    pub sending_queue: QueueConfig,
    /// Retries of failed exports.
    #[serde(default)]
    pub retry_on_failure: RetryConfig,
}

/// Body encoding of OTLP/HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HttpEncoding {
    /// `application/x-protobuf`.
    #[default]
    Proto,
    /// `application/json` (OTLP/JSON).
    Json,
}

/// `exporters.otlphttp`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpHttpExporterConfig {
    /// Base URL; `/v1/traces` is appended unless `traces_endpoint` is given.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Full URL of the traces endpoint, used as is.
    #[serde(default)]
    pub traces_endpoint: Option<String>,
    /// Body encoding.
    #[serde(default)]
    pub encoding: HttpEncoding,
    /// Wire compression.
    #[serde(default)]
    pub compression: Compression,
    /// Deadline of one export call.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Extra request headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// How an `https://` endpoint is verified (CA, client certificate, server name); `https://` without it
    /// verifies against the system's roots.
    #[serde(default)]
    pub tls: Option<ClientTls>,
    /// How spans are grouped into requests.
    #[serde(default)]
    pub batch: BatchConfig,
    /// The bounded queue in front of the network.
    #[serde(default)]
    pub sending_queue: QueueConfig,
    /// Retries of failed exports.
    #[serde(default)]
    pub retry_on_failure: RetryConfig,
}

impl OtlpHttpExporterConfig {
    /// The URL requests are posted to.
    pub fn url(&self) -> String {
        match (&self.traces_endpoint, &self.endpoint) {
            (Some(t), _) => t.clone(),
            (None, Some(e)) => format!("{}/v1/traces", e.trim_end_matches('/')),
            (None, None) => "http://127.0.0.1:4318/v1/traces".to_owned(),
        }
    }
}

/// `exporters.file`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileExporterConfig {
    /// File to append OTLP/JSON lines to (created if missing).
    pub path: PathBuf,
    /// How spans are grouped into lines.
    #[serde(default)]
    pub batch: BatchConfig,
    /// The bounded queue in front of the file.
    #[serde(default)]
    pub sending_queue: QueueConfig,
    /// Retries of failed writes (e.g. a full disk).
    #[serde(default)]
    pub retry_on_failure: RetryConfig,
}

/// How much the debug exporter logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DebugVerbosity {
    /// Counts per batch.
    #[default]
    Basic,
    /// One line per span with its anomaly attributes.
    Detailed,
}

/// `exporters.debug`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DebugExporterConfig {
    /// How much to log.
    #[serde(default)]
    pub verbosity: DebugVerbosity,
    /// How spans are grouped.
    #[serde(default)]
    pub batch: BatchConfig,
    /// The bounded queue.
    #[serde(default)]
    pub sending_queue: QueueConfig,
    /// Retries (never needed, kept for uniformity).
    #[serde(default)]
    pub retry_on_failure: RetryConfig,
}

/// `exporters.*.batch`: batching counts spans, not requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchConfig {
    /// A batch is sent when it holds this many spans…
    #[serde(default = "default_batch_size")]
    pub send_batch_size: usize,
    /// …or this long after its first span, whichever comes first.
    #[serde(default = "default_batch_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            send_batch_size: default_batch_size(),
            timeout: default_batch_timeout(),
        }
    }
}

/// `exporters.*.sending_queue`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Batches waiting to be sent. When full, the pipeline waits (backpressure up to the receivers, which then
    /// answer 429 / UNAVAILABLE) instead of dropping.
    #[serde(default = "default_queue_size")]
    pub queue_size: usize,
    /// Exports in flight at once.
    #[serde(default = "default_consumers")]
    pub num_consumers: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            queue_size: default_queue_size(),
            num_consumers: default_consumers(),
        }
    }
}

/// `exporters.*.retry_on_failure`: exponential backoff on retryable failures.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Retry at all; when off, a failed batch is dropped (and counted) at once.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// First wait.
    #[serde(default = "default_initial_interval", with = "humantime_serde")]
    pub initial_interval: Duration,
    /// Longest wait between attempts.
    #[serde(default = "default_max_interval", with = "humantime_serde")]
    pub max_interval: Duration,
    /// Give up (drop and count) after retrying this long.
    #[serde(default = "default_max_elapsed", with = "humantime_serde")]
    pub max_elapsed_time: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_interval: default_initial_interval(),
            max_interval: default_max_interval(),
            max_elapsed_time: default_max_elapsed(),
        }
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_batch_size() -> usize {
    8192
}
fn default_batch_timeout() -> Duration {
    Duration::from_millis(200)
}
fn default_queue_size() -> usize {
    16
}
fn default_consumers() -> usize {
    2
}
fn default_true() -> bool {
    true
}
fn default_initial_interval() -> Duration {
    Duration::from_millis(200)
}
fn default_max_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_max_elapsed() -> Duration {
    Duration::from_secs(300)
}

fn check_url(path: &str, url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            ConfigError::key(
                path,
                format!(
                    "{url:?} must start with http:// or https://, e.g. \"http://{}\" (the collector accepts a bare host:port; spanguard wants the scheme, which also says plaintext or TLS)",
                    if url.contains("://") { "127.0.0.1:4317" } else { url }
                ),
            )
        })?;
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(ConfigError::key(
            path,
            format!("{url:?} has no host, e.g. \"http://127.0.0.1:4317\""),
        ));
    }
    Ok(())
}

/// TLS follows the URL's scheme, as in the collector: `https://` is verified TLS, `http://` is plaintext, and a
/// `tls` block on an `http://` URL is a mistake worth stopping for (the user meant TLS and would not get it).
fn check_tls(path: &str, url_key: &str, url: &str, tls: Option<&ClientTls>) -> Result<(), ConfigError> {
    let tls_path = format!("{path}.tls");
    if !url.starts_with("https://") {
        return match tls {
            Some(_) => Err(ConfigError::key(
                format!("{path}.{url_key}"),
                format!("{url:?} is plaintext but a tls block is set: write https://, or remove tls"),
            )),
            None => Ok(()),
        };
    }
    let tls = tls.cloned().unwrap_or_default();
    tls.server_name(&tls_path)?;
    tls.load(&tls_path).map(|_| ())
}

fn check_delivery(
    path: &str,
    batch: &BatchConfig,
    queue: &QueueConfig,
    retry: &RetryConfig,
) -> Result<(), ConfigError> {
    if batch.send_batch_size == 0 {
        return Err(ConfigError::key(
            format!("{path}.batch.send_batch_size"),
            "must be at least 1; the default is 8192",
        ));
    }
    if batch.timeout.is_zero() {
        return Err(ConfigError::key(
            format!("{path}.batch.timeout"),
            "must be longer than 0s; the default is 200ms",
        ));
    }
    if queue.queue_size == 0 {
        return Err(ConfigError::key(
            format!("{path}.sending_queue.queue_size"),
            "must be at least 1; the default is 64",
        ));
    }
    if queue.num_consumers == 0 {
        return Err(ConfigError::key(
            format!("{path}.sending_queue.num_consumers"),
            "must be at least 1; the default is 2",
        ));
    }
    if retry.enabled && retry.initial_interval > retry.max_interval {
        return Err(ConfigError::key(
            format!("{path}.retry_on_failure.initial_interval"),
            "must not exceed max_interval",
        ));
    }
    Ok(())
}

impl ExporterConfig {
    pub(crate) fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let (b, q, r) = self.delivery();
        check_delivery(path, b, q, r)?;
        match self {
            ExporterConfig::Otlp(c) => {
                check_url(&format!("{path}.endpoint"), &c.endpoint)?;
                check_tls(path, "endpoint", &c.endpoint, c.tls.as_ref())
            }
            ExporterConfig::OtlpHttp(c) => {
                let (key, url) = if let Some(t) = &c.traces_endpoint {
                    ("traces_endpoint", t)
                } else if let Some(e) = &c.endpoint {
                    ("endpoint", e)
                } else {
                    return Err(ConfigError::key(
                        format!("{path}.endpoint"),
                        "is required (or traces_endpoint), e.g. \"http://127.0.0.1:4318\"",
                    ));
                };
                check_url(&format!("{path}.{key}"), url)?;
                check_tls(path, key, url, c.tls.as_ref())
            }
            ExporterConfig::File(c) => {
                if c.path.as_os_str().is_empty() {
                    Err(ConfigError::key(
                        format!("{path}.path"),
                        "must name a file, e.g. out.otlp.jsonl",
                    ))
                } else {
                    Ok(())
                }
            }
            ExporterConfig::Debug(_) => Ok(()),
        }
    }
}
