//! The processor: spans in, enriched spans out.
//!
//! ```text
//! records (span bytes + shared resource/scope, from the receiver) ─► assembly (by trace id, trace_wait)
//!          ─► window (N traces | timeout) ─► detectors ─► enrich (anomaly.* attributes) ─► exporter
//!                                                     └─► incident (one span per anomalous window) ─┘
//! ```
//!
//! Detectors are plain synchronous code behind [`Detector`]: a window in, a [`WindowScore`] out. They never see
//! sockets or clocks, so the same code serves the live pipeline and the offline `train`/`score` commands.

pub mod assembly;
pub mod attributes;
pub mod detector;
pub mod enrich;
pub mod evidence;
pub mod frequency;
pub mod graph;
pub mod incident;
mod late;
mod metrics;
pub mod model_file;
pub mod offline;
pub mod record;
pub mod rng;
mod stage;
pub mod trace;
pub mod window;

pub use assembly::{Assembler, Completion};
pub use detector::{Contribution, Detector, Detectors, WindowScore};
pub use evidence::Evidence;
pub use record::{split_request, Appended, ResourceCtx, ScopeCtx, SpanRecord};
pub use stage::{Processor, ProcessorHandle, ScoreReport, WindowReport};
pub use trace::{Trace, TraceId};
pub use window::{Window, Windower};

pub use spanguard_otlp::Request;
