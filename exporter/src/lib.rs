//! Exporters: where enriched spans leave spanguard.
//!
//! ```text
//! processor ─► [fan-out] ─► batcher (spans, timeout) ─► bounded queue ─► consumers ─► client (otlp | otlphttp | file | debug)
//!                                                                          └─ retry with exponential backoff
//! ```
//!
//! Every exporter has its own bounded queue; a full queue makes the batcher wait, which makes the processor wait,
//! which makes the receivers answer with backpressure — so nothing is dropped while downstream is slow. Spans are
//! dropped only when retrying has been given up (`max_elapsed_time`, a permanent error, or the shutdown deadline),
//! and then they are counted by reason.

mod batch;
mod client;
mod errors;
mod grpc;
mod http;
mod metrics;
mod pool;
mod retry;
mod tls;

pub(crate) use client::{Client, Payload};
pub use errors::{ExportError, ExporterError};
pub use grpc::{GrpcBody, GrpcClient};
pub use pool::Exporters;

pub use spanguard_otlp::Request;

pub use spanguard_otlp::span_count;
