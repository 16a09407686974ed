//! The `spanguard` binary's library half: wiring only. Each module connects crates for one command; the logic
//! lives in the crates (`receiver`, `processor`, `exporter`, `config`, `telemetry`).

pub mod admin;
pub mod bench;
pub mod cmd;
pub mod demo;
pub mod detectors;
pub mod pipeline;
pub mod progress;
pub mod signals;
pub mod traces;

// The testkit's generators and sink, under the names the commands use.
use spanguard_testkit::{sink, workload};
