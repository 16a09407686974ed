//! The graph detector's event sources behind one entry point, [`start`]: `processors.<name>.graph.events` in,
//! exchange events on a bounded channel out, counted in the registry where they happen (events, drops, bad
//! lines) and said in `spanguard_probe_available`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

use spanguard_config::{EventSource, EventsConfig};
use spanguard_telemetry::{names, Registry};

use crate::probe::{Probe, ProbeConfig, ProbeError, ProbeStats, Scope, ServiceRule};
use crate::{file, procfs, ExchangeEvent};

/// Why an event source could not start.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// `source: file` without a path.
    #[error("events.path: required with source: file (the events file to follow)")]
    NoPath,
    /// The eBPF probe cannot run here (permissions, kernel).
    #[error(transparent)]
    Probe(#[from] ProbeError),
}

/// A running event source; [`Running::stop`] ends it.
pub struct Running {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    probe: Option<Probe>,
}

impl Running {
    /// The eBPF probe's counters, when it is the source (syscalls seen, what it could not record).
    pub fn probe_stats(&self) -> Option<Arc<ProbeStats>> {
        self.probe.as_ref().map(|p| p.stats.clone())
    }

    /// Stops the source and waits for its thread; the channel closes with it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(p) = self.probe {
            p.stop();
        }
        if let Some(t) = self.thread {
            let _ = t.join();
        }
    }
}

impl Scope {
    /// The cgroups when given, else the pids when given, else everything.
    pub fn of(cgroups: &[PathBuf], pids: &[u32]) -> Scope {
        if !cgroups.is_empty() {
            Scope::Cgroups(cgroups.to_vec())
        } else if !pids.is_empty() {
            Scope::Pids(pids.to_vec())
        } else {
            Scope::All
        }
    }
}

impl From<&EventsConfig> for ProbeConfig {
    fn from(e: &EventsConfig) -> Self {
        ProbeConfig {
            interval: e.interval,
            scope: Scope::of(&e.cgroups, &e.pids),
            services: e
                .services
                .iter()
                .map(|(pattern, service)| ServiceRule {
                    pattern: pattern.clone(),
                    service: service.clone(),
                })
                .collect(),
        }
    }
}

/// Starts the source `events` names, sending into `tx`; `source: none` drops `tx` (the detector then reports
/// nothing).
pub fn start(
    events: &EventsConfig,
    registry: &Registry,
    tx: SyncSender<ExchangeEvent>,
) -> Result<Running, SourceError> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut running = Running {
        stop: stop.clone(),
        thread: None,
        probe: None,
    };
    let available = |source| registry.gauge(&names::PROBE_AVAILABLE, &[("source", source)]);
    match events.source {
        EventSource::File => {
            let path = events.path.clone().ok_or(SourceError::NoPath)?;
            let bad_lines = registry.counter(&names::GRAPH_BAD_EVENT_LINES, &[]);
            running.thread = Some(file::follow(path, tx, stop, bad_lines));
        }
        EventSource::Ebpf => {
            let available = available("ebpf");
            match Probe::start_counted(ProbeConfig::from(events), tx, ProbeStats::registered(registry)) {
                Ok(probe) => {
                    available.set(1);
                    running.probe = Some(probe);
                }
                Err(e) => {
                    available.set(0);
                    return Err(e.into());
                }
            }
        }
        EventSource::Procfs => {
            available("procfs").set(1);
            tracing::warn!("exchange events from the procfs fallback: process-level, per-poll (coarser than eBPF)");
            let c = ProbeConfig::from(events);
            running.thread = Some(procfs::spawn(c.interval, c.scope, c.services, tx, stop));
        }
        EventSource::None => drop(tx),
    }
    Ok(running)
}
