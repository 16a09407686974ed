//! Between an event source (a file being written, the eBPF probe) and the graph detector: a thread that turns
//! events into scored intervals and keeps the recent ones where the detector can read them. Inference stays off
//! the processor's task, and ONNX Runtime's session lives on this one thread (`run` takes `&mut self`).

use std::collections::VecDeque;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use spanguard_ebpf_probe::ExchangeEvent;
use spanguard_telemetry::{names, Registry};

use super::score::{GraphScorer, IntervalScore};

/// Scored intervals kept for windows to look up.
const KEPT: usize = 720;

/// The recent scored intervals, shared between the feed thread and the detector.
#[derive(Default)]
pub struct IntervalLog {
    recent: Mutex<VecDeque<Arc<IntervalScore>>>,
}

impl IntervalLog {
    /// An empty log.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds a scored interval, forgetting the oldest beyond [`KEPT`].
    pub fn push(&self, s: IntervalScore) {
        let mut r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        r.push_back(Arc::new(s));
        while r.len() > KEPT {
            r.pop_front();
        }
    }

    /// The intervals that overlap `[start, end]` (ns).
    pub fn overlapping(&self, start: u64, end: u64) -> Vec<Arc<IntervalScore>> {
        let r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        r.iter().filter(|s| s.start <= end && s.end > start).cloned().collect()
    }

    /// The time the remembered intervals cover, `(first start, last end)` in ns.
    pub fn covered(&self) -> Option<(u64, u64)> {
        let r = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        Some((r.front()?.start, r.back()?.end))
    }

    /// The most recent interval.
    pub fn latest(&self) -> Option<Arc<IntervalScore>> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner()).back().cloned()
    }
}

/// Runs the feed on its own thread until `events` closes; closes the open interval when no event came for two
/// interval lengths (a quiet source must still get its last interval scored).
pub fn spawn(
    mut scorer: GraphScorer,
    events: Receiver<ExchangeEvent>,
    log: Arc<IntervalLog>,
    registry: &Registry,
) -> std::thread::JoinHandle<()> {
    let counted = registry.counter(names::GRAPH_EVENTS, "Exchange events fed to the graph detector.", &[]);
    let normal = registry.counter(
        names::GRAPH_INTERVALS,
        "Intervals scored by the graph detector.",
        &[("anomalous", "false")],
    );
    let anomalous = registry.counter(
        names::GRAPH_INTERVALS,
        "Intervals scored by the graph detector.",
        &[("anomalous", "true")],
    );
    let idle = std::time::Duration::from_nanos(scorer.model().interval_ns().saturating_mul(2));
    std::thread::Builder::new()
        .name("graph-feed".into())
        .spawn(move || {
            let publish = |scores: Result<Vec<IntervalScore>, super::runtime::RuntimeError>| match scores {
                Ok(v) => {
                    for s in v {
                        if s.anomalous {
                            anomalous.inc();
                            tracing::warn!(
                                start = s.start,
                                score = s.score,
                                threshold = s.threshold,
                                unknown_edges = s.unknown_edges.len(),
                                worst = s.services.first().map_or("", |x| x.service.as_str()),
                                "anomalous data-exchange interval"
                            );
                        } else {
                            normal.inc();
                        }
                        log.push(s);
                    }
                }
                Err(e) => tracing::error!(error = %e, "graph scoring failed for an interval"),
            };
            loop {
                match events.recv_timeout(idle) {
                    Ok(e) => {
                        counted.inc();
                        publish(scorer.push(&e));
                    }
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => publish(scorer.finish()),
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                        publish(scorer.finish());
                        return;
                    }
                }
            }
        })
        .expect("spawning a thread only fails when the process is out of resources")
}
