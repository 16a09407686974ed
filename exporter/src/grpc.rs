//! OTLP/gRPC client. The batch is encoded once into bytes and every attempt sends those bytes, so a retry
//! neither re-encodes nor clones the batch.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use spanguard_config::{Compression, OtlpExporterConfig};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use spanguard_otlp::{SpanRecord, EXPORT_PATH};

use crate::{ExportError, ExporterError};

#[derive(Clone, Copy, Default)]
struct RawCodec;
struct RawEncoder;
struct ResponseDecoder;

/// What one export sends.
#[derive(Clone)]
pub enum GrpcBody {
    /// An already encoded request (the benchmark's generator).
    Encoded(Bytes),
    /// Span records, encoded straight into tonic's send buffer: no intermediate copy of the batch, and a
    /// retry re-encodes (a copy of each span's bytes) rather than keeping a second copy of the batch around.
    Spans(Arc<Vec<SpanRecord>>),
}

impl Encoder for RawEncoder {
    type Item = GrpcBody;
    type Error = Status;
    fn encode(&mut self, item: GrpcBody, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        // One allocation for the whole batch: growing tonic's buffer step by step reallocated and faulted in
        // fresh pages several times per multi-megabyte batch.
        match item {
            GrpcBody::Encoded(b) => {
                dst.reserve(b.len());
                dst.put(b);
            }
            GrpcBody::Spans(spans) => {
                let plan = spanguard_otlp::Plan::new(&spans);
                dst.reserve(plan.len());
                plan.write(dst);
            }
        }
        Ok(())
    }
}

impl Decoder for ResponseDecoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let n = src.remaining();
        ExportTraceServiceResponse::decode(src.copy_to_bytes(n))
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

impl Codec for RawCodec {
    type Encode = GrpcBody;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEncoder;
    type Decoder = ResponseDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> ResponseDecoder {
        ResponseDecoder
    }
}

/// A connection (lazily established, re-established on failure) to an OTLP/gRPC peer that sends already encoded
/// requests. Public for the benchmark's load generator, which patches pre-encoded requests instead of encoding.
#[derive(Clone)]
pub struct GrpcClient {
    grpc: tonic::client::Grpc<Channel>,
    headers: Vec<(
        MetadataKey<tonic::metadata::Ascii>,
        MetadataValue<tonic::metadata::Ascii>,
    )>,
    timeout: Duration,
}

impl GrpcClient {
    pub fn new(name: &str, c: &OtlpExporterConfig) -> Result<Self, ExporterError> {
        let bad = |message: String| ExporterError::Endpoint {
            name: name.to_owned(),
            message,
        };
        let endpoint = Endpoint::from_shared(c.endpoint.clone())
            .map_err(|e| bad(format!("{:?} is not a valid URL: {e}", c.endpoint)))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            // A batch of 8192 spans is a few MiB: with h2's default 64 KiB window every export would stall on
            // dozens of window updates. The peer's receive window still bounds what is in flight.
            .initial_stream_window_size(8 << 20)
            .initial_connection_window_size(16 << 20);
        // https:// goes through rustls (`exporters.<name>.tls`); the plaintext path keeps tonic's own connector.
        let channel = if c.endpoint.starts_with("https://") {
            endpoint.connect_with_connector_lazy(crate::tls::https_connector(
                name,
                c.tls.as_ref(),
                crate::tls::Alpn::H2,
            )?)
        } else {
            endpoint.connect_lazy()
        };
        let mut grpc = tonic::client::Grpc::new(channel)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(4 << 20);
        if c.compression == Compression::Gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
        let mut headers = Vec::new();
        for (k, v) in &c.headers {
            let key = MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes())
                .map_err(|_| bad(format!("header name {k:?} is not valid gRPC metadata")))?;
            let value = MetadataValue::try_from(v.as_str())
                .map_err(|_| bad(format!("header {k:?} has a value that is not valid ASCII metadata")))?;
            headers.push((key, value));
        }
        Ok(Self {
            grpc,
            headers,
            timeout: c.timeout,
        })
    }

    /// Sends one `ExportTraceServiceRequest`; returns the spans the peer rejected.
    pub async fn export(&self, body: GrpcBody) -> Result<i64, ExportError> {
        let mut grpc = self.grpc.clone();
        grpc.ready()
            .await
            .map_err(|e| ExportError::retryable(format!("peer not ready: {e}"), None))?;
        let mut request = tonic::Request::new(body);
        request.set_timeout(self.timeout);
        for (k, v) in &self.headers {
            request.metadata_mut().insert(k.clone(), v.clone());
        }
        let path = http::uri::PathAndQuery::from_static(EXPORT_PATH);
        match grpc.unary(request, path, RawCodec).await {
            Ok(resp) => Ok(resp.into_inner().partial_success.map(|p| p.rejected_spans).unwrap_or(0)),
            Err(status) => Err(classify(&status)),
        }
    }
}

/// Retryable codes per the OTLP specification.
fn classify(status: &Status) -> ExportError {
    let code = status.code();
    let message = format!(
        "peer answered gRPC status {} ({}): {}",
        code as i32,
        code.description(),
        status.message()
    );
    match status.code() {
        Code::Unavailable
        | Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss => ExportError::retryable(message, None),
        // RESOURCE_EXHAUSTED is retryable only when the server says when (RetryInfo); we treat it as throttling.
        Code::ResourceExhausted => ExportError::retryable(message, None),
        // tonic reports a failed connection or a broken stream as Unknown with the transport error as source.
        Code::Unknown if from_transport(status) => ExportError::retryable(message, None),
        _ => ExportError::permanent(message),
    }
}

/// Whether `status` stands for a transport failure (connection, HTTP/2, I/O) rather than the peer's answer.
fn from_transport(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        if e.is::<tonic::transport::Error>() || e.is::<hyper::Error>() || e.is::<std::io::Error>() {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transport_failure_is_retried_and_an_unknown_answer_is_not() {
        let refused = Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )));
        assert!(classify(&refused).retryable, "{}", classify(&refused));
        // The peer itself answering Unknown (its own bug): retrying would send the same request into it again.
        let answered = Status::new(Code::Unknown, "transport of the payment failed");
        assert!(!classify(&answered).retryable);
        assert!(classify(&Status::unavailable("busy")).retryable);
        let said = classify(&Status::invalid_argument("bad span")).to_string();
        assert!(
            said.contains("gRPC status 3 (Client specified an invalid argument)"),
            "{said}"
        );
    }
}
