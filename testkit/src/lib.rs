//! What spanguard is exercised with, outside the product itself: the workload generators (traces shaped like
//! the paper's social network, exchange events of an LTE core), the benchmark's OTLP sender and its request
//! template, and a counting OTLP sink that stands in for a collector. The tests, the benches and the binary's
//! `demo`, `bench`, `generate` and `loadgen` commands share them.

pub mod bench;
pub mod error;
pub mod sink;
pub mod workload;

pub use error::TestkitError;
