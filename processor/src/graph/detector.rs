//! The graph detector in the pipeline: a window of traces takes the verdict of the data-exchange interval(s)
//! it overlaps (or the one just before it, since an interval is scored only after it ends).

use std::sync::Arc;

use super::feed::IntervalLog;
use crate::attributes::{double, strings};
use crate::{Contribution, Detector, Window, WindowScore};

/// `anomaly.graph.score`: the worst overlapping interval's score (double).
pub const SCORE: &str = "anomaly.graph.score";
/// `anomaly.graph.threshold`: its threshold (double).
pub const THRESHOLD: &str = "anomaly.graph.threshold";
/// `anomaly.graph.services`: the microservices that reconstruct worst in it, worst first (string array).
pub const SERVICES: &str = "anomaly.graph.services";

/// Services named in `anomaly.graph.services`.
const WORST: usize = 3;

/// Reads scored intervals; never touches the events, the model or a clock itself.
pub struct GraphDetector {
    log: Arc<IntervalLog>,
    interval_ns: u64,
}

impl GraphDetector {
    /// A detector over the intervals of `log`, `interval_ns` long.
    pub fn new(log: Arc<IntervalLog>, interval_ns: u64) -> Self {
        Self { log, interval_ns }
    }
}

impl Detector for GraphDetector {
    fn name(&self) -> &'static str {
        "graph"
    }

    fn score(&mut self, window: &Window) -> WindowScore {
        let (start, end) = (window.start_ns(), window.end_ns());
        let intervals = self.log.overlapping(start.saturating_sub(self.interval_ns), end);
        let Some(worst) = intervals.iter().max_by(|a, b| a.score.total_cmp(&b.score)) else {
            return WindowScore {
                detector: "graph",
                score: f64::NAN,
                threshold: f64::NAN,
                ..WindowScore::default()
            };
        };
        let anomalous = intervals.iter().any(|s| s.anomalous);
        let shown = intervals.iter().find(|s| s.anomalous).unwrap_or(worst);
        WindowScore {
            detector: "graph",
            anomalous,
            score: worst.score,
            threshold: worst.threshold,
            attributes: vec![
                double(SCORE, worst.score),
                double(THRESHOLD, worst.threshold),
                strings(SERVICES, shown.services.iter().take(WORST).map(|s| s.service.clone())),
            ],
            trace_attributes: Vec::new(),
            top: shown
                .top_edges
                .iter()
                .map(|e| Contribution {
                    label: e.edge.clone(),
                    expected: e.expected,
                    observed: e.observed,
                })
                .chain(shown.unknown_edges.iter().map(|u| Contribution {
                    label: format!("new edge {u}"),
                    expected: 0.0,
                    observed: 1.0,
                }))
                .collect(),
        }
    }
}
