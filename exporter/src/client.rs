//! The four ways spans leave: one enum rather than a trait object, because the set is closed and the calls are
//! async.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use spanguard_config::{DebugVerbosity, ExporterConfig, HttpEncoding};

use crate::grpc::{GrpcBody, GrpcClient};
use crate::http::HttpClient;
use spanguard_otlp::SpanRecord;

use crate::{span_count, ExportError, ExporterError, Request};

/// A batch prepared for its client, once, before the first attempt.
pub(crate) enum Payload {
    /// Encoded bytes (protobuf, JSON, JSON line; gzip when configured).
    Bytes(Bytes),
    /// Span records the gRPC client encodes into its own buffer.
    Spans(Arc<Vec<SpanRecord>>),
    /// The request, decoded (debug exporter).
    Request(Request),
}

/// Where one exporter sends.
#[derive(Clone)]
pub(crate) enum Client {
    /// OTLP/gRPC.
    Grpc(Box<GrpcClient>),
    /// OTLP/HTTP.
    Http(Box<HttpClient>),
    /// OTLP/JSON lines appended to a file.
    File(Arc<Mutex<std::io::BufWriter<std::fs::File>>>),
    /// Log lines.
    Debug(DebugVerbosity),
}

impl Client {
    /// Builds the client of exporter `name`.
    pub fn build(name: &str, config: &ExporterConfig) -> Result<Self, ExporterError> {
        Ok(match config {
            ExporterConfig::Otlp(c) => Client::Grpc(Box::new(GrpcClient::new(name, c)?)),
            ExporterConfig::OtlpHttp(c) => Client::Http(Box::new(HttpClient::new(name, c)?)),
            ExporterConfig::File(c) => {
                if let Some(dir) = c.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| ExporterError::File {
                        name: name.to_owned(),
                        path: c.path.display().to_string(),
                        source,
                    })?;
                }
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&c.path)
                    .map_err(|source| ExporterError::File {
                        name: name.to_owned(),
                        path: c.path.display().to_string(),
                        source,
                    })?;
                Client::File(Arc::new(Mutex::new(std::io::BufWriter::new(file))))
            }
            ExporterConfig::Debug(c) => Client::Debug(c.verbosity),
        })
    }

    /// Encodes a batch for this client. Protobuf is written from the spans' own bytes; JSON and the debug
    /// log go through the decoded request.
    pub fn prepare(&self, batch: Vec<SpanRecord>) -> Result<Payload, ExportError> {
        let decoded = || {
            spanguard_otlp::to_request(&batch)
                .map_err(|e| ExportError::permanent(format!("cannot decode the batch for JSON: {e}")))
        };
        let json = |req: &Request| {
            serde_json::to_vec(req).map_err(|e| ExportError::permanent(format!("cannot write the batch as JSON: {e}")))
        };
        Ok(match self {
            Client::Grpc(_) => Payload::Spans(Arc::new(batch)),
            Client::Http(h) => {
                let raw = match h.encoding() {
                    HttpEncoding::Proto => spanguard_otlp::encode_request(&batch),
                    HttpEncoding::Json => json(&decoded()?)?,
                };
                Payload::Bytes(if h.gzip() { gzip(&raw)? } else { raw }.into())
            }
            Client::File(_) => {
                let mut line = json(&decoded()?)?;
                line.push(b'\n');
                Payload::Bytes(line.into())
            }
            Client::Debug(_) => Payload::Request(decoded()?),
        })
    }

    /// One attempt; returns the number of spans the peer rejected (OTLP partial success).
    pub async fn export(&self, payload: &Payload) -> Result<i64, ExportError> {
        match (self, payload) {
            (Client::Grpc(c), Payload::Spans(s)) => c.export(GrpcBody::Spans(s.clone())).await,
            (Client::Http(c), Payload::Bytes(b)) => c.export(b.clone()).await,
            (Client::File(f), Payload::Bytes(b)) => {
                let mut w = f.lock().unwrap_or_else(|p| p.into_inner());
                w.write_all(b)
                    .and_then(|_| w.flush())
                    .map(|_| 0)
                    .map_err(|e| ExportError::retryable(format!("cannot write file: {e}"), None))
            }
            (Client::Debug(v), Payload::Request(r)) => {
                log_batch(*v, r);
                Ok(0)
            }
            _ => Err(ExportError::permanent("payload prepared for another client")),
        }
    }
}

fn gzip(raw: &[u8]) -> Result<Vec<u8>, ExportError> {
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(raw.len() / 4), flate2::Compression::fast());
    enc.write_all(raw)
        .and_then(|_| enc.finish())
        .map_err(|e| ExportError::permanent(format!("cannot compress the batch: {e}")))
}

fn log_batch(verbosity: DebugVerbosity, req: &Request) {
    tracing::info!(
        resources = req.resource_spans.len(),
        spans = span_count(req),
        "debug exporter: batch"
    );
    if verbosity == DebugVerbosity::Detailed {
        for rs in &req.resource_spans {
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    let anomaly: Vec<String> = span
                        .attributes
                        .iter()
                        .filter(|kv| kv.key.starts_with("anomaly."))
                        .map(|kv| {
                            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                                Some(Value::StringValue(s)) => s.clone(),
                                Some(Value::BoolValue(b)) => b.to_string(),
                                Some(Value::IntValue(i)) => i.to_string(),
                                Some(Value::DoubleValue(d)) => format!("{d:.4}"),
                                Some(other) => format!("{other:?}"),
                                None => String::new(),
                            };
                            format!("{}={v}", kv.key)
                        })
                        .collect();
                    tracing::info!(name = %span.name, attributes = %anomaly.join(" "), "debug exporter: span");
                }
            }
        }
    }
}
