//! spanguard assembled from its config, as `spanguard run`, the demo and the tests start it:
//!
//! - [`detectors`]: the detector chain `processors.<name>` asks for, its models loaded and checked, and the
//!   graph detector's event source and scoring thread ([`detectors::Background`]);
//! - [`stage`]: receivers → processor → exporters over bounded channels, started together and shut down in
//!   order (receivers first, the processor drains, the exporters flush within the deadline);
//! - [`admin`]: spanguard's own `/metrics` and `/healthz`.

pub mod admin;
pub mod detectors;
mod error;
pub mod stage;

pub use error::PipelineError;
pub use stage::{start, Running, ShutdownReport};
