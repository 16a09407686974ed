//! The graph detector in the pipeline: a window of traces takes the verdict of the data-exchange interval(s)
//! it overlaps (or the one just before it, since an interval is scored only after it ends).

use super::score::UnknownEdge;
use crate::attributes::{double, string, strings};
use crate::{Contribution, Detector, Evidence, Window, WindowScore};

/// The detector's name: in `anomaly.detectors`, window reports, incidents and metrics.
pub const NAME: &str = "graph";
/// `anomaly.graph.score`: the worst overlapping interval's score (double).
pub const SCORE: &str = "anomaly.graph.score";
/// `anomaly.graph.threshold`: its threshold (double).
pub const THRESHOLD: &str = "anomaly.graph.threshold";
/// `anomaly.graph.services`: the microservices that reconstruct worst in it, worst first (string array).
pub const SERVICES: &str = "anomaly.graph.services";

/// `anomaly.graph.volume`: when the volume rule flagged the interval, the edge and its bytes against the busiest
/// training interval (string; absent otherwise).
pub const VOLUME: &str = "anomaly.graph.volume";

/// Services named in `anomaly.graph.services`.
const WORST: usize = 3;

/// Reads the scored intervals the processor received; never touches the events, the model or a clock itself.
pub struct GraphDetector {
    interval_ns: u64,
    /// Said once that the events and the traces do not overlap in time.
    warned: bool,
}

impl GraphDetector {
    /// A detector over intervals `interval_ns` long.
    pub fn new(interval_ns: u64) -> Self {
        Self {
            interval_ns,
            warned: false,
        }
    }

    /// Events and traces from different times (a recorded events file beside live traces, clocks apart) give
    /// every window no interval at all: said once, with both time ranges, instead of silence.
    fn warn_if_apart(&mut self, evidence: &Evidence, start: u64, end: u64) {
        let Some((first, last)) = evidence.intervals_covered() else {
            return;
        };
        let apart = last.saturating_add(2 * self.interval_ns) < start || first > end;
        if apart && !self.warned {
            self.warned = true;
            let time = |ns: u64| {
                humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns))
                    .to_string()
            };
            tracing::warn!(
                events = %format!("{} – {}", time(first), time(last)),
                traces = %format!("{} – {}", time(start), time(end)),
                "graph detector: the exchange events and the traces cover different times, so no interval overlaps a window; is the events file from another run, or a clock off?"
            );
        }
    }
}

impl Detector for GraphDetector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn score(&mut self, window: &Window, evidence: &Evidence) -> WindowScore {
        let (start, end) = (window.start_ns(), window.end_ns());
        // The intervals the window's spans fall in; when none is scored yet (the current interval is still
        // open), the one that ended just before the window began.
        let mut intervals = evidence.intervals_overlapping(start, end);
        if intervals.is_empty() {
            intervals = evidence.intervals_overlapping(start.saturating_sub(self.interval_ns), start);
        }
        if intervals.is_empty() {
            self.warn_if_apart(evidence, start, end);
        }
        let Some(worst) = intervals.iter().max_by(|a, b| a.score.total_cmp(&b.score)) else {
            return WindowScore {
                detector: NAME,
                score: f64::NAN,
                threshold: f64::NAN,
                ..WindowScore::default()
            };
        };
        let anomalous = intervals.iter().any(|s| s.anomalous);
        let shown = intervals.iter().find(|s| s.anomalous).unwrap_or(worst);
        let mut attributes = vec![
            double(SCORE, worst.score),
            double(THRESHOLD, worst.threshold),
            strings(SERVICES, shown.services.iter().take(WORST).map(|s| s.service.clone())),
        ];
        if let Some(v) = intervals.iter().filter_map(|s| s.volume.as_ref()).find(|v| v.over()) {
            attributes.push(string(VOLUME, v.describe()));
        }
        // What made the interval anomalous comes first (incidents keep the first few): the volume excess, then
        // never-seen communication, then what the reconstruction missed most, then never-seen file accesses.
        let (talk, other): (Vec<&UnknownEdge>, Vec<&UnknownEdge>) =
            shown.unknown_edges.iter().partition(|u| u.alarming);
        let new_edge = |u: &UnknownEdge| Contribution {
            label: format!("new edge {u}"),
            expected: 0.0,
            observed: 1.0,
        };
        WindowScore {
            detector: NAME,
            anomalous,
            score: worst.score,
            threshold: worst.threshold,
            attributes,
            trace_attributes: Vec::new(),
            incident_attributes: Vec::new(),
            top: shown
                .volume
                .iter()
                .filter(|v| v.over())
                .map(|v| Contribution {
                    label: format!("more data than ever on {}", v.edge),
                    expected: v.training_max,
                    observed: v.observed,
                })
                .chain(talk.into_iter().map(new_edge))
                .chain(shown.top_edges.iter().map(|e| Contribution {
                    label: e.edge.clone(),
                    expected: e.expected,
                    observed: e.observed,
                }))
                .chain(other.into_iter().map(new_edge))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::score::IntervalScore;
    use crate::{SpanRecord, Trace};
    use opentelemetry_proto::tonic::trace::v1::Span;

    const S: u64 = 1_000_000_000;

    fn interval(start: u64, anomalous: bool) -> IntervalScore {
        IntervalScore {
            start,
            end: start + S,
            score: if anomalous { 9.0 } else { 1.0 },
            threshold: 2.0,
            anomalous,
            unknown_edges: Vec::new(),
            services: Vec::new(),
            top_edges: Vec::new(),
            events: 1,
            volume: None,
        }
    }

    fn window(start: u64, end: u64) -> Window {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![1; 8],
            start_time_unix_nano: start,
            end_time_unix_nano: end,
            ..Default::default()
        };
        let rec = SpanRecord::from_span(Default::default(), Default::default(), &span).unwrap();
        Window::new(
            "w",
            0,
            vec![Trace {
                id: [1; 16],
                spans: vec![rec],
            }],
            false,
        )
    }

    #[test]
    fn a_window_takes_the_verdict_of_the_intervals_it_falls_in() {
        let mut e = Evidence::default();
        e.push_interval(interval(10 * S, true).into());
        e.push_interval(interval(11 * S, false).into());
        let mut d = GraphDetector::new(S);
        // Inside the normal interval right after an anomalous one: not flagged by its neighbour.
        assert!(!d.score(&window(11 * S + 100, 11 * S + 900), &e).anomalous);
        // Inside the anomalous one.
        assert!(d.score(&window(10 * S + 100, 10 * S + 900), &e).anomalous);
        // Straddling both: flagged.
        assert!(d.score(&window(10 * S + 500, 11 * S + 500), &e).anomalous);
        // Beyond the last scored interval (still open): the one just before it.
        let s = d.score(&window(12 * S + 100, 12 * S + 200), &e);
        assert!(!s.anomalous);
        assert_eq!(s.score, 1.0);
        // Long after: nothing to go by.
        assert!(d.score(&window(20 * S, 20 * S + 1), &e).score.is_nan());
    }

    #[test]
    fn a_window_flagged_by_the_volume_rule_says_which_edge() {
        use crate::graph::score::VolumeExcess;
        let mut e = Evidence::default();
        let mut by_volume = interval(10 * S, true);
        by_volume.score = 1.0; // under its threshold: only the volume rule flagged it
        by_volume.volume = Some(VolumeExcess {
            edge: "postgres/postgres->catalogue".into(),
            excess: 5.6,
            threshold: Some(0.8),
            training_max: 10_218.0,
            observed: 3_921_153.0,
        });
        e.push_interval(by_volume.into());
        e.push_interval(interval(11 * S, false).into());
        let mut d = GraphDetector::new(S);
        let flagged = d.score(&window(10 * S + 100, 10 * S + 900), &e);
        assert!(flagged.anomalous);
        let volume = flagged
            .attributes
            .iter()
            .find(|kv| kv.key == VOLUME)
            .expect("anomaly.graph.volume");
        assert!(
            format!("{volume:?}").contains("postgres/postgres->catalogue 3921153 bytes"),
            "{volume:?}"
        );
        assert!(flagged.top[0]
            .label
            .starts_with("more data than ever on postgres/postgres->catalogue"));
        // The normal interval next to it carries no volume attribute.
        let normal = d.score(&window(11 * S + 100, 11 * S + 900), &e);
        assert!(!normal.attributes.iter().any(|kv| kv.key == VOLUME));
    }

    #[test]
    fn the_never_seen_communication_that_alarmed_is_named_before_what_the_reconstruction_missed() {
        use crate::graph::score::EdgeDeviation;
        let mut e = Evidence::default();
        let mut shell = interval(10 * S, true);
        let edge = |src: &str, dst: &str, alarming| UnknownEdge {
            src: src.into(),
            dst: dst.into(),
            alarming,
        };
        shell.unknown_edges = vec![
            edge("file:/etc/passwd", "catalogue/bash", false),
            edge("catalogue/bash", "net:tcp:4444", true),
            // Never seen, but a known program talking inside its own service: reported after what alarmed.
            edge("catalogue/gunicorn", "catalogue/bash", false),
        ];
        shell.top_edges = (0..5)
            .map(|i| EdgeDeviation {
                edge: format!("postgres/postgres->file:/data/{i}"),
                expected: 1.0,
                observed: 2.0,
            })
            .collect();
        e.push_interval(shell.into());
        let s = GraphDetector::new(S).score(&window(10 * S + 100, 10 * S + 900), &e);
        let labels: Vec<&str> = s.top.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels[0], "new edge catalogue/bash->net:tcp:4444", "{labels:?}");
        assert_eq!(labels[1], "postgres/postgres->file:/data/0", "{labels:?}");
        assert_eq!(
            labels[labels.len() - 2..],
            [
                "new edge file:/etc/passwd->catalogue/bash",
                "new edge catalogue/gunicorn->catalogue/bash"
            ],
            "{labels:?}"
        );
    }
}
