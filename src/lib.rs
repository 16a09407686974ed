//! The `spanguard` binary's library half: wiring only. Each module connects crates for one command; the logic
//! lives in the crates (`pipeline` assembles `receiver`, `processor`, `exporter`; `config`, `telemetry`, `ebpf-probe`), and what the
//! demo and the bench exercise spanguard with in `testkit`.

pub mod cmd;
pub mod progress;
pub mod signals;
pub mod traces;

// The testkit's generators, under the name the commands use.
use spanguard_testkit::workload;
