//! The seam every detector plugs into.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use serde::Serialize;

use crate::evidence::{Evidence, IntervalReceiver};
use crate::Window;

/// Scores windows. Implementations are plain, synchronous and deterministic: no sockets, no clocks, no globals
/// (state across windows, such as a slowly adapting baseline, lives in `self`). That is what lets the live
/// pipeline and the offline `score`/`eval` commands share one implementation.
pub trait Detector: Send {
    /// Short stable name (`frequency`, `graph`): used in `anomaly.detectors` and metric labels.
    fn name(&self) -> &'static str;

    /// Scores one window, with the processor's second input (the graph feed's scored intervals) as `evidence`.
    fn score(&mut self, window: &Window, evidence: &Evidence) -> WindowScore;
}

/// The detector chain and the inputs it needs besides spans.
#[derive(Default)]
pub struct Detectors {
    /// Detectors in chain order.
    pub chain: Vec<Box<dyn Detector>>,
    /// The graph feed's scored intervals, when the graph detector runs.
    pub intervals: Option<IntervalReceiver>,
}

impl From<Vec<Box<dyn Detector>>> for Detectors {
    fn from(chain: Vec<Box<dyn Detector>>) -> Self {
        Self { chain, intervals: None }
    }
}

/// One thing that contributed to a score: a sequence, an edge, a service.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contribution {
    /// What it is (`frontend/GET /cart → cart/GetCart`, `eNB->MME`).
    pub label: String,
    /// Its expected (baseline) value.
    pub expected: f64,
    /// Its observed value in the window.
    pub observed: f64,
}

/// A [`Contribution`] label cut to `max` characters by taking out its middle: call sequences that differ often
/// differ near the end, which a plain cut would hide.
pub fn shorten(label: &str, max: usize) -> String {
    let n = label.chars().count();
    if n <= max {
        return label.to_owned();
    }
    let keep = max.saturating_sub(1) / 2;
    let head: String = label.chars().take(keep).collect();
    let tail: String = label.chars().skip(n - keep).collect();
    format!("{head}…{tail}")
}

/// A detector's verdict on one window.
#[derive(Debug, Clone, Default)]
pub struct WindowScore {
    /// The detector's name.
    pub detector: &'static str,
    /// Whether it fired.
    pub anomalous: bool,
    /// Its main score (for summaries).
    pub score: f64,
    /// The threshold `score` was compared with.
    pub threshold: f64,
    /// Attributes for every span of the window (`anomaly.<detector>.*`).
    pub attributes: Vec<KeyValue>,
    /// Attributes for the root span of individual traces, by trace index in the window.
    pub trace_attributes: Vec<(usize, Vec<KeyValue>)>,
    /// Attributes for the window's incident span only (explanations too long to repeat on every span).
    pub incident_attributes: Vec<KeyValue>,
    /// The largest contributions to the score, largest first.
    pub top: Vec<Contribution>,
}

#[cfg(test)]
mod tests {
    use super::shorten;

    #[test]
    fn a_long_label_keeps_its_start_and_its_end() {
        assert_eq!(shorten("a -> b", 10), "a -> b");
        let cut = shorten("frontend/Recv. -> cart/GetCart -> payment/Charge", 21);
        assert_eq!(cut, "frontend/R…ent/Charge");
        assert_eq!(cut.chars().count(), 21);
    }
}
