//! Data exchanges between the processes, threads, files and sockets of a monitored application (DistAppGuard,
//! ACSAC 2021, §3): their type ([`ExchangeEvent`], the contract between a probe and the graph detector) and their
//! JSON-lines form for recording and replay. The probes that produce them live in `spanguard-ebpf-probe`; the
//! graph detector depends on this crate alone, not on the kernel side.

pub mod event;
pub mod file;

pub use event::{ExchangeEvent, Op, Target};
