//! OTLP/gRPC `TraceService/Export`. Written out instead of using the generated server so that the codec is ours:
//! a body that is not protobuf is INVALID_ARGUMENT (the OTLP answer for bad data, not tonic's INTERNAL), and an
//! oversize message is RESOURCE_EXHAUSTED (not tonic's OUT_OF_RANGE).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::{Code, Status};

use crate::admission::{EarlyRefusal, Protocol};
use crate::decode::{decode_request, Encoding};
use crate::{Admission, Refusal};

use spanguard_otlp::EXPORT_PATH;

/// A codec that hands the request body on as bytes: the admission scans it (a span is never decoded into
/// owned types on the way through), and a body that is not protobuf is INVALID_ARGUMENT.
#[derive(Default, Clone, Copy)]
struct OtlpCodec;

struct OtlpEncoder;
struct OtlpDecoder;

impl Encoder for OtlpEncoder {
    type Item = ExportTraceServiceResponse;
    type Error = Status;
    fn encode(&mut self, item: Self::Item, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(buf).map_err(|e| Status::internal(e.to_string()))
    }
}

impl Decoder for OtlpDecoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        // Splits tonic's receive buffer: no copy.
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

impl Codec for OtlpCodec {
    type Encode = ExportTraceServiceResponse;
    type Decode = Bytes;
    type Encoder = OtlpEncoder;
    type Decoder = OtlpDecoder;
    fn encoder(&mut self) -> OtlpEncoder {
        OtlpEncoder
    }
    fn decoder(&mut self) -> OtlpDecoder {
        OtlpDecoder
    }
}

#[derive(Clone)]
struct ExportMethod {
    admission: Admission,
}

impl UnaryService<Bytes> for ExportMethod {
    type Response = ExportTraceServiceResponse;
    type Future = Pin<Box<dyn Future<Output = Result<tonic::Response<Self::Response>, Status>> + Send>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let result = export(&self.admission, request.into_inner());
        Box::pin(async move { result.map(tonic::Response::new) })
    }
}

fn export(admission: &Admission, body: Bytes) -> Result<ExportTraceServiceResponse, Status> {
    admission.refuse_when_full(Protocol::Grpc, &body).map_err(refused)?;
    let body = admission.hold(Protocol::Grpc, body).map_err(refused)?;
    let records = decode_request(body, Encoding::Protobuf).map_err(|e| Status::invalid_argument(e.to_string()))?;
    admission
        .admit(Protocol::Grpc, records)
        .map(|admitted| admitted.response())
        .map_err(refused)
}

fn refused(why: Refusal) -> Status {
    match why {
        Refusal::Backpressure | Refusal::MemoryLimit => {
            let msg = if why == Refusal::MemoryLimit {
                "spanguard is at its memory limit; retry after backoff"
            } else {
                "spanguard pipeline is full; retry after backoff"
            };
            Status::with_details(
                Code::Unavailable,
                msg,
                crate::rpc_status::retry_details(Code::Unavailable, msg).into(),
            )
        }
        Refusal::ShuttingDown => Status::unavailable("spanguard is shutting down"),
    }
}

/// The `TraceService` as a tower service for tonic's router.
#[derive(Clone)]
pub(crate) struct TraceServiceServer {
    admission: Admission,
    max_request_bytes: usize,
}

impl TraceServiceServer {
    pub(crate) fn new(admission: Admission, max_request_bytes: usize) -> Self {
        Self {
            admission,
            max_request_bytes,
        }
    }
}

impl NamedService for TraceServiceServer {
    const NAME: &'static str = "opentelemetry.proto.collector.trace.v1.TraceService";
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

impl<B> tower_service::Service<http::Request<B>> for TraceServiceServer
where
    B: http_body::Body + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != EXPORT_PATH {
            return Box::pin(async { Ok(Status::unimplemented("only TraceService/Export is served").into_http()) });
        }
        let authorization = req.headers().get(http::header::AUTHORIZATION).map(|v| v.as_bytes());
        if !self.admission.authorize(Protocol::Grpc, authorization) {
            return Box::pin(async {
                Ok(
                    Status::unauthenticated("missing or wrong bearer token (authorization: Bearer <token>)")
                        .into_http(),
                )
            });
        }
        let method = ExportMethod {
            admission: self.admission.clone(),
        };
        let admission = self.admission.clone();
        let limit = self.max_request_bytes;
        Box::pin(async move {
            let mut grpc = Grpc::new(OtlpCodec)
                .apply_compression_config(
                    {
                        let mut accept = tonic::codec::EnabledCompressionEncodings::default();
                        accept.enable(CompressionEncoding::Gzip);
                        accept
                    },
                    Default::default(),
                )
                .apply_max_message_size_config(Some(limit), None);
            let mut response = grpc.unary(method, req).await;
            // tonic reports an oversize frame as OUT_OF_RANGE before our codec runs; OTLP says RESOURCE_EXHAUSTED.
            // Our handler never returns OUT_OF_RANGE itself, so the rewrite is exact.
            let status = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|s| s.parse::<i32>().ok());
            match status.map(Code::from) {
                Some(Code::OutOfRange) => {
                    response
                        .headers_mut()
                        .insert("grpc-status", http::HeaderValue::from(Code::ResourceExhausted as i32));
                    admission.count_early_refusal(Protocol::Grpc, EarlyRefusal::TooLarge);
                }
                Some(Code::ResourceExhausted) => admission.count_early_refusal(Protocol::Grpc, EarlyRefusal::TooLarge),
                Some(Code::InvalidArgument) | Some(Code::Internal) => {
                    admission.count_early_refusal(Protocol::Grpc, EarlyRefusal::Malformed)
                }
                _ => {}
            }
            Ok(response)
        })
    }
}
