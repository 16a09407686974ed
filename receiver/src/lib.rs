//! Receivers: where spans enter spanguard. OTLP/gRPC (`TraceService/Export`) and OTLP/HTTP (`POST /v1/traces`,
//! protobuf or JSON, optionally gzip), answering with the status codes the OTLP specification prescribes, so that
//! any SDK or collector can point at spanguard as it would at a collector.
//!
//! A receiver only decodes, validates and admits: admitted requests go into one bounded channel towards the
//! processor, and a full channel is answered with backpressure (429 / UNAVAILABLE), never buffered without bound.

mod admission;
pub mod auth;
mod decode;
mod errors;
pub mod file;
mod grpc;
mod http;
pub mod limits;
pub mod memory;
mod rpc_status;
mod server;
mod tls;

pub use admission::{Admission, Admitted, Protocol, Refusal};
pub use decode::{decode_request, inflate, DecodeError, Encoding};
pub use errors::ReceiverError;
pub use server::{grpc_server, incoming, BoundReceiver, OtlpReceiver};

pub use spanguard_otlp::SpanRecord;

pub use spanguard_otlp::Request;
