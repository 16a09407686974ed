use std::time::Duration;

/// Errors building an exporter at start-up.
#[derive(Debug, thiserror::Error)]
pub enum ExporterError {
    /// The endpoint cannot be used.
    #[error("exporters.{name}.endpoint: {message}")]
    Endpoint { name: String, message: String },
    /// The TLS settings cannot be used (the message names the key).
    #[error("{0}")]
    Tls(#[from] spanguard_config::ConfigError),
    /// The output file cannot be opened.
    #[error("exporters.{name}.path: cannot open {path}: {source}")]
    File {
        name: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A failed export attempt.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ExportError {
    /// Worth retrying (peer unavailable, throttling, timeouts).
    pub retryable: bool,
    /// How long the peer asked us to wait, if it did.
    pub retry_after: Option<Duration>,
    /// What went wrong.
    pub message: String,
}

impl ExportError {
    pub(crate) fn retryable(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self {
            retryable: true,
            retry_after,
            message: message.into(),
        }
    }

    pub(crate) fn permanent(message: impl Into<String>) -> Self {
        Self {
            retryable: false,
            retry_after: None,
            message: message.into(),
        }
    }
}
