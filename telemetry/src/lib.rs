//! spanguard's own telemetry. Counters are plain atomics so that the hot path pays one relaxed add per batch, not
//! a lock; names live in [`names`] so that the README's metric list and the code cannot drift apart.

pub mod names;
mod registry;

pub use registry::{Counter, Gauge, Registry};
