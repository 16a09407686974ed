//! The `spanguard` binary's library half: wiring only. Each module connects crates for one command; the logic
//! lives in the crates (`receiver`, `processor`, `exporter`, `config`, `telemetry`).

pub mod admin;
pub mod pipeline;
pub mod sink;
pub mod workload;
