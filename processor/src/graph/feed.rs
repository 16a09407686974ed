//! Between an event source (a file being written, the eBPF probe) and the processor: a thread that turns events
//! into scored intervals and sends each to the processor over a bounded channel ([`crate::evidence`]).
//! Inference stays off the processor's task, and ONNX Runtime's session lives on this one thread (`run` takes
//! `&mut self`).

use std::sync::mpsc::Receiver;
use std::sync::Arc;

use spanguard_exchange::ExchangeEvent;
use spanguard_telemetry::{names, Registry};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::watch;

use super::score::{GraphScorer, IntervalScore};
use crate::evidence::IntervalSender;

/// The latest scored interval, for whoever paces itself on the feed (the demo, tests): a watch channel the
/// feed overwrites. The processor never reads it; it judges windows by what arrives on its channel.
#[derive(Clone)]
pub struct Latest(watch::Receiver<Option<Arc<IntervalScore>>>);

impl Latest {
    /// The most recent interval scored, if any.
    pub fn get(&self) -> Option<Arc<IntervalScore>> {
        self.0.borrow().clone()
    }
}

/// Runs the feed on its own thread until `events` closes; closes the open interval when no event came for two
/// interval lengths (a quiet source must still get its last interval scored).
///
/// Scored intervals go to `intervals` without waiting: when the processor has not taken the last [`KEPT`]
/// (it is stalled behind its exporters), an interval is dropped and counted, and the feed keeps up with the
/// events.
///
/// [`KEPT`]: crate::evidence::KEPT
pub fn spawn(
    mut scorer: GraphScorer,
    events: Receiver<ExchangeEvent>,
    intervals: IntervalSender,
    registry: &Registry,
) -> (std::thread::JoinHandle<()>, Latest) {
    let counted = registry.counter(&names::GRAPH_EVENTS, &[]);
    let dropped = registry.counter(&names::GRAPH_INTERVALS_DROPPED, &[]);
    let (latest_tx, latest) = watch::channel(None);
    let normal = registry.counter(&names::GRAPH_INTERVALS, &[("anomalous", "false")]);
    let anomalous = registry.counter(&names::GRAPH_INTERVALS, &[("anomalous", "true")]);
    let idle = std::time::Duration::from_nanos(scorer.model().interval_ns().saturating_mul(2));
    let thread = std::thread::Builder::new()
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
                                volume = s.volume.as_ref().filter(|v| v.over()).map_or(String::new(), |v| v.describe()),
                                "anomalous data-exchange interval"
                            );
                        } else {
                            normal.inc();
                        }
                        let s = Arc::new(s);
                        latest_tx.send_replace(Some(s.clone()));
                        match intervals.try_send(s) {
                            Ok(()) => {}
                            Err(TrySendError::Full(_)) => {
                                if dropped.get() == 0 {
                                    tracing::warn!("graph detector: the processor is not taking scored intervals (stalled behind its exporters?); dropping them, counted in spanguard_graph_intervals_dropped_total");
                                }
                                dropped.inc();
                            }
                            // The pipeline has stopped (or never started): nobody judges windows any more.
                            Err(TrySendError::Closed(_)) => {}
                        }
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
        .expect("spawning a thread only fails when the process is out of resources");
    (thread, Latest(latest))
}
