//! OTLP trace requests in their encoded form.
//!
//! spanguard forwards every span it receives, and reads only a few fields of each (ids, name, times, the
//! service). Decoding whole spans into owned types and encoding them again was most of its work, so spans stay
//! in the bytes they arrived in:
//!
//! ```text
//! request bytes ─► parse_request (checked as prost would, nothing allocated per field) ─► SpanRecord
//!     (the span's bytes, shared with the request body, + ids/name/times) ─► … ─► append(anomaly.* attributes)
//!     ─► encode_request (span bytes ++ appended attribute fields, regrouped by resource and scope)
//! ```
//!
//! Slow paths (JSON in and out, the debug exporter, tests) convert through `opentelemetry-proto`'s types:
//! [`from_request`], [`to_request`].

mod encode;
mod record;
pub mod scan;
pub mod wire;

pub use encode::{encode_request, to_request, Plan};
pub use record::{count_spans, from_request, name_hash, parse_request, Appended, ResourceCtx, ScopeCtx, SpanRecord};
pub use wire::WireError;

/// The gRPC method every OTLP trace exporter calls, and the only one a receiver serves.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// The OTLP request type, decoded.
pub type Request = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

/// Spans in a decoded request.
pub fn span_count(req: &Request) -> usize {
    req.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}
