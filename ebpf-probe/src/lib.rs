//! The probes that record data exchanges between the processes, threads, files and sockets of a monitored
//! application (DistAppGuard, ACSAC 2021, §3): the eBPF probe (raw tracepoints; the C kernel side in `bpf/`,
//! loaded with aya) and the procfs fallback, and [`start`], which runs the source a config names (these two or a
//! followed events file). What they produce, [`ExchangeEvent`], and its JSON-lines form are
//! `spanguard-exchange`'s, re-exported here for the probes' callers.

pub mod abi;
pub mod probe;
pub mod procfs;
pub mod resolve;
pub mod source;

pub use probe::{preflight, Probe, ProbeConfig, ProbeError, ProbeStats, Scope, ServiceRule};
pub use source::{start, Running, SourceError};
pub use spanguard_exchange::{event, file, ExchangeEvent, Op, Target};
