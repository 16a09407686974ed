//! Enrichment: every span of a scored window gets the window's `anomaly.*` attributes, and root spans get their
//! trace's own. Nothing else about a span changes.
//!
//! spanguard owns the `anomaly.` namespace: an incoming attribute with a key spanguard sets is replaced, never
//! duplicated — otherwise a client could pre-set `anomaly.detected=false` and hide its traces from a search.

use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::KeyValue;

use crate::attributes::{self, boolean, int, string, strings};
use crate::record::Appended;
use crate::{SpanRecord, Window, WindowScore};

/// The attributes every span of `window` gets, given its scores.
pub fn window_attributes(window: &Window, scores: &[WindowScore]) -> Vec<KeyValue> {
    let fired: Vec<&str> = scores.iter().filter(|s| s.anomalous).map(|s| s.detector).collect();
    let mut attrs = vec![
        string(attributes::WINDOW_ID, window.id.as_str()),
        int(attributes::WINDOW_TRACES, window.traces.len() as i64),
        boolean(attributes::DETECTED, !fired.is_empty()),
    ];
    if window.partial {
        attrs.push(boolean(attributes::WINDOW_PARTIAL, true));
    }
    if !fired.is_empty() {
        attrs.push(strings(attributes::DETECTORS, fired));
    }
    for s in scores {
        attrs.extend(s.attributes.iter().cloned());
    }
    attrs
}

/// Consumes a scored window and returns its spans, enriched: the window's attributes (encoded once, shared by
/// every span) and, on root spans, their trace's own.
pub fn enrich(window: Window, scores: &[WindowScore], window_attrs: &Arc<Appended>) -> Vec<SpanRecord> {
    let mut traces = window.traces;
    for score in scores {
        for (index, extra) in &score.trace_attributes {
            if let Some(trace) = traces.get_mut(*index) {
                if let Some(root) = trace.root_index() {
                    trace.spans[root].append(Arc::new(Appended::new(extra)));
                }
            }
        }
    }
    let mut out = Vec::with_capacity(traces.iter().map(|t| t.spans.len()).sum());
    for trace in traces {
        for mut record in trace.spans {
            record.append(Arc::clone(window_attrs));
            out.push(record);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ResourceCtx, ScopeCtx};
    use crate::Trace;
    use opentelemetry_proto::tonic::trace::v1::Span;

    #[test]
    fn client_cannot_preset_our_attributes() {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![1; 8],
            attributes: vec![boolean(attributes::DETECTED, false), string("http.method", "GET")],
            ..Default::default()
        };
        let rec =
            SpanRecord::from_span(Arc::new(ResourceCtx::default()), Arc::new(ScopeCtx::default()), &span).unwrap();
        let window = Window::new(
            "w",
            0,
            vec![Trace {
                id: [1; 16],
                spans: vec![rec],
            }],
            false,
        );
        let attrs = Arc::new(Appended::new(&[boolean(attributes::DETECTED, true)]));
        let out = enrich(window, &[], &attrs);
        let attrs = out[0].to_span().unwrap().attributes;
        assert_eq!(attrs.iter().filter(|kv| kv.key == attributes::DETECTED).count(), 1);
        assert_eq!(
            attributes::find(&attrs, attributes::DETECTED),
            Some(&opentelemetry_proto::tonic::common::v1::any_value::Value::BoolValue(
                true
            ))
        );
        assert!(attributes::find(&attrs, "http.method").is_some());
    }
}
