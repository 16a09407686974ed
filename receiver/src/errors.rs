/// Errors that stop a receiver from serving.
#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    /// The listen address could not be bound.
    #[error("cannot listen on {endpoint} ({key}): {source}; pick a free address")]
    Bind {
        endpoint: String,
        key: String,
        #[source]
        source: std::io::Error,
    },
    /// A TLS certificate or key could not be loaded (the message names the config key).
    #[error("{0}")]
    Tls(#[from] spanguard_config::ConfigError),
    /// The gRPC server failed while serving.
    #[error("OTLP/gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
    /// The HTTP server failed while serving.
    #[error("OTLP/HTTP server failed: {0}")]
    Http(std::io::Error),
}
