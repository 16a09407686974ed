//! Data exchanges between the processes, threads, files and sockets of a monitored application (DistAppGuard,
//! ACSAC 2021, §3): their type ([`ExchangeEvent`], the contract between a probe and the graph detector), their
//! JSON-lines form for recording and replay, and the probes that produce them.

pub mod abi;
pub mod event;
pub mod file;
pub mod probe;
pub mod procfs;
pub mod resolve;

pub use event::{ExchangeEvent, Op, Target};
pub use probe::{preflight, Probe, ProbeConfig, ProbeError, ProbeStats, Scope, ServiceRule};
