//! Incident spans: one extra span per anomalous window, so that incidents are listed as traces of their own in
//! Jaeger (service `spanguard`, operation `anomaly.window`) and lead to the evidence — a span link to the root span
//! of every trace of the window.
//!
//! The window's own spans are untouched by this: the incident is a new trace, added to the same export batch.

use opentelemetry_proto::tonic::common::v1::{any_value::Value, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Link, SpanKind};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use crate::attributes::{self, double, string, strings};
use crate::{Window, WindowScore};

/// The incident span's service name.
pub const SERVICE: &str = "spanguard";
/// The incident span's name.
pub const NAME: &str = "anomaly.window";

/// Most contributions listed per detector: enough to point at the cause, few enough to read in a tag list.
const TOP: usize = 5;

/// The incident for `window`, or `None` when no detector fired. `window_attrs` are the attributes its spans get;
/// the incident carries them too, plus each detector's score, threshold and top contributions
/// (`anomaly.<detector>.top`, "label: observed vs expected").
pub fn incident(window: &Window, scores: &[WindowScore], window_attrs: &[KeyValue]) -> Option<ResourceSpans> {
    if !scores.iter().any(|s| s.anomalous) {
        return None;
    }
    let mut attrs = window_attrs.to_vec();
    for s in scores {
        attrs.push(double(&format!("anomaly.{}.score", s.detector), s.score));
        attrs.push(double(&format!("anomaly.{}.threshold", s.detector), s.threshold));
        if !s.top.is_empty() {
            let top = s
                .top
                .iter()
                .take(TOP)
                .map(|c| format!("{}: {:.4} vs {:.4}", c.label, c.observed, c.expected));
            attrs.push(strings(&format!("anomaly.{}.top", s.detector), top));
        }
        attrs.extend(s.incident_attributes.iter().cloned());
    }
    // Attributes a detector already sets under the same key (e.g. anomaly.graph.threshold) stay once.
    let mut seen = std::collections::HashSet::new();
    attrs.retain(|kv| seen.insert(kv.key.clone()));

    let links = window
        .traces
        .iter()
        .filter_map(|t| {
            let root = &t.spans[t.root_index()?];
            Some(Link {
                trace_id: root.trace_id().to_vec(),
                span_id: root.span_id().to_vec(),
                attributes: vec![string("anomaly.link", "window trace")],
                ..Default::default()
            })
        })
        .collect();
    let fired: Vec<&str> = scores.iter().filter(|s| s.anomalous).map(|s| s.detector).collect();
    let (start, end) = (window.start_ns(), window.end_ns());
    let span = Span {
        trace_id: rand::random::<[u8; 16]>().to_vec(),
        span_id: rand::random::<[u8; 8]>().to_vec(),
        name: NAME.into(),
        kind: SpanKind::Internal as i32,
        start_time_unix_nano: start,
        end_time_unix_nano: end.max(start),
        attributes: attrs,
        links,
        status: Some(Status {
            code: StatusCode::Error as i32,
            message: format!("anomalous window {} ({})", window.id, fired.join(", ")),
        }),
        ..Default::default()
    };
    Some(ResourceSpans {
        resource: Some(Resource {
            attributes: vec![
                string("service.name", SERVICE),
                string("service.version", env!("CARGO_PKG_VERSION")),
            ],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: SERVICE.into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            }),
            spans: vec![span],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// Whether `span` is an incident span (for consumers that want to tell them from the traffic).
pub fn is_incident(resource: Option<&Resource>, span: &Span) -> bool {
    span.name == NAME
        && resource.is_some_and(
            |r| matches!(attributes::find(&r.attributes, "service.name"), Some(Value::StringValue(s)) if s == SERVICE),
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Contribution, SpanRecord, Trace};

    fn trace(id: u8, spans: usize) -> Trace {
        let mut out = Vec::new();
        for i in 0..spans {
            let span = Span {
                trace_id: vec![id; 16],
                span_id: vec![i as u8 + 1; 8],
                parent_span_id: if i == 0 { vec![] } else { vec![1; 8] },
                start_time_unix_nano: 1_000 + i as u64,
                end_time_unix_nano: 2_000 + i as u64,
                ..Default::default()
            };
            out.push(SpanRecord::from_span(Default::default(), Default::default(), &span).unwrap());
        }
        Trace {
            id: [id; 16],
            spans: out,
        }
    }

    fn score(anomalous: bool) -> WindowScore {
        WindowScore {
            detector: "frequency",
            anomalous,
            score: 0.3,
            threshold: 0.2,
            top: vec![Contribution {
                label: "frontend/login".into(),
                expected: 0.01,
                observed: 0.5,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn an_anomalous_window_gets_one_incident_linking_every_trace_root() {
        let w = Window::new("run-7", 7, vec![trace(1, 3), trace(2, 1)], false);
        let rs = incident(&w, &[score(true)], &[]).expect("an incident");
        let span = &rs.scope_spans[0].spans[0];
        assert!(is_incident(rs.resource.as_ref(), span));
        assert_eq!(span.links.len(), 2);
        assert_eq!(span.links[0].trace_id, vec![1; 16]);
        assert_eq!(span.links[0].span_id, vec![1; 8], "links point at the root span");
        assert_eq!(span.links[1].trace_id, vec![2; 16]);
        assert_ne!(span.trace_id, vec![1; 16], "the incident is a trace of its own");
        assert_eq!((span.start_time_unix_nano, span.end_time_unix_nano), (1_000, 2_002));
        match attributes::find(&span.attributes, "anomaly.frequency.top") {
            Some(Value::ArrayValue(a)) => assert_eq!(a.values.len(), 1),
            other => panic!("no top contributions: {other:?}"),
        }
        assert_eq!(
            attributes::find(&span.attributes, "anomaly.frequency.score"),
            Some(&Value::DoubleValue(0.3))
        );
    }

    #[test]
    fn a_normal_window_gets_none() {
        let w = Window::new("run-1", 1, vec![trace(1, 2)], false);
        assert!(incident(&w, &[score(false)], &[]).is_none());
    }
}
