//! What spanguard is exercised with, outside the product itself: the workload generators (traces shaped like
//! the paper's social network, exchange events of an LTE core), the benchmark's OTLP sender and its request
//! template, spanguard run as a measured child process, a counting OTLP sink that stands in for a collector, the
//! demo (its timeline, its run of the embedded pipeline, its live table) and its scratch files. The tests, the benches and the binary's
//! `demo`, `bench`, `generate` and `loadgen` commands share them.

pub mod bench;
pub mod demo;
pub mod error;
pub mod models;
pub mod scratch;
pub mod sink;
pub mod workload;

pub use error::TestkitError;
