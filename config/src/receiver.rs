use serde::Deserialize;

use crate::{ByteSize, ServerTls};

/// `receivers.otlp`: OTLP over gRPC and HTTP, exactly as the collector's `otlp` receiver accepts it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpReceiverConfig {
    /// Which protocols to serve; a protocol left out is not served.
    pub protocols: Protocols,
    /// Largest request accepted, after decompression (413 / RESOURCE_EXHAUSTED beyond it).
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: ByteSize,
    /// Require senders to authenticate; absent = anyone who reaches the port may send (see SECURITY.md).
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Bounds on what one request or span may carry; beyond them spans are rejected or attributes truncated,
    /// and counted.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// `receivers.otlp.limits`. The defaults are the OpenTelemetry SDKs' own span limits where they have one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Spans per request; the rest are rejected (OTLP partial success), counted as `too_many_spans`.
    #[serde(default = "default_max_spans_per_request")]
    pub max_spans_per_request: usize,
    /// Attributes per span (the SDKs' `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` default, 128); the rest are dropped and
    /// added to the span's `dropped_attributes_count`.
    #[serde(default = "default_max_attributes_per_span")]
    pub max_attributes_per_span: usize,
    /// Bytes of a string attribute value (also inside arrays); longer values are cut at a character boundary.
    #[serde(default = "default_max_attribute_value_length")]
    pub max_attribute_value_length: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_spans_per_request: default_max_spans_per_request(),
            max_attributes_per_span: default_max_attributes_per_span(),
            max_attribute_value_length: default_max_attribute_value_length(),
        }
    }
}

fn default_max_spans_per_request() -> usize {
    100_000
}

fn default_max_attributes_per_span() -> usize {
    128
}

fn default_max_attribute_value_length() -> usize {
    16 * 1024
}

/// `receivers.otlp.auth`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Senders must send `authorization: Bearer <bearer_token>` (gRPC metadata or HTTP header). Keep it out of the
    /// file: `bearer_token: "${env:SPANGUARD_TOKEN}"`.
    pub bearer_token: String,
}

impl std::fmt::Debug for AuthConfig {
    /// Never prints the token (configs are logged at debug level).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("bearer_token", &"<redacted>")
            .finish()
    }
}

/// `receivers.otlp.protocols`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Protocols {
    /// OTLP/gRPC `TraceService/Export`.
    pub grpc: Option<GrpcProtocol>,
    /// OTLP/HTTP `POST /v1/traces` (protobuf and JSON).
    pub http: Option<HttpProtocol>,
}

/// `receivers.otlp.protocols.grpc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcProtocol {
    /// `host:port` to listen on.
    #[serde(default = "default_grpc_endpoint")]
    pub endpoint: String,
    /// Serve TLS (and with `client_ca_file`, mutual TLS) instead of plaintext.
    #[serde(default)]
    pub tls: Option<ServerTls>,
}

/// `receivers.otlp.protocols.http`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProtocol {
    /// `host:port` to listen on.
    #[serde(default = "default_http_endpoint")]
    pub endpoint: String,
    /// Serve TLS (and with `client_ca_file`, mutual TLS) instead of plaintext.
    #[serde(default)]
    pub tls: Option<ServerTls>,
}

impl Default for GrpcProtocol {
    fn default() -> Self {
        Self {
            endpoint: default_grpc_endpoint(),
            tls: None,
        }
    }
}

impl Default for HttpProtocol {
    fn default() -> Self {
        Self {
            endpoint: default_http_endpoint(),
            tls: None,
        }
    }
}

fn default_grpc_endpoint() -> String {
    "0.0.0.0:4317".to_owned()
}

fn default_http_endpoint() -> String {
    "0.0.0.0:4318".to_owned()
}

fn default_max_request_bytes() -> ByteSize {
    ByteSize(16 << 20)
}

impl OtlpReceiverConfig {
    pub(crate) fn validate(&self, path: &str) -> Result<(), crate::ConfigError> {
        if self.protocols.grpc.is_none() && self.protocols.http.is_none() {
            return Err(crate::ConfigError::key(
                format!("{path}.protocols"),
                "enable at least one of grpc or http, e.g. `grpc: { endpoint: \"0.0.0.0:4317\" }`",
            ));
        }
        for (key, value) in [
            ("max_spans_per_request", self.limits.max_spans_per_request),
            ("max_attributes_per_span", self.limits.max_attributes_per_span),
            ("max_attribute_value_length", self.limits.max_attribute_value_length),
        ] {
            if value == 0 {
                return Err(crate::ConfigError::key(
                    format!("{path}.limits.{key}"),
                    "must be at least 1 (leave it out for the default)",
                ));
            }
        }
        if let Some(a) = &self.auth {
            if a.bearer_token.trim().is_empty() || a.bearer_token.chars().any(|c| c.is_control() || c == ' ') {
                return Err(crate::ConfigError::key(
                    format!("{path}.auth.bearer_token"),
                    "must be a non-empty token without spaces, e.g. \"${env:SPANGUARD_TOKEN}\" (or remove auth)",
                ));
            }
        }
        if let Some(g) = &self.protocols.grpc {
            crate::load::check_listen_endpoint(&format!("{path}.protocols.grpc.endpoint"), &g.endpoint)?;
            if let Some(tls) = &g.tls {
                tls.load(&format!("{path}.protocols.grpc.tls"), &[])?;
            }
        }
        if let Some(h) = &self.protocols.http {
            crate::load::check_listen_endpoint(&format!("{path}.protocols.http.endpoint"), &h.endpoint)?;
            if let Some(tls) = &h.tls {
                tls.load(&format!("{path}.protocols.http.tls"), &[])?;
            }
        }
        if self.max_request_bytes.0 < 1024 {
            return Err(crate::ConfigError::key(
                format!("{path}.max_request_bytes"),
                "must be at least 1KiB; the default is 16MiB",
            ));
        }
        Ok(())
    }
}
