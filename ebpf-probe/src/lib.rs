//! The probes that record data exchanges between the processes, threads, files and sockets of a monitored
//! application (DistAppGuard, ACSAC 2021, §3): the eBPF probe (raw tracepoints; the C kernel side in `bpf/`,
//! loaded with aya) and the procfs fallback. What they produce, [`ExchangeEvent`], and its JSON-lines form are
//! `spanguard-exchange`'s, re-exported here for the probes' callers.

pub mod abi;
pub mod probe;
pub mod procfs;
pub mod resolve;

pub use probe::{preflight, Probe, ProbeConfig, ProbeError, ProbeStats, Scope, ServiceRule};
pub use spanguard_exchange::{event, file, ExchangeEvent, Op, Target};
