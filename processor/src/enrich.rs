//! Enrichment: every span of a scored window gets the window's `anomaly.*` attributes, and root spans get their
//! trace's own. Nothing else about a span changes.
//!
//! spanguard owns the `anomaly.` namespace: an incoming attribute with a key spanguard sets is replaced, never
//! duplicated — otherwise a client could pre-set `anomaly.detected=false` and hide its traces from a search.

use opentelemetry_proto::tonic::common::v1::KeyValue;

use crate::attributes::{self, boolean, int, string, strings};
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

/// Adds `extra` to a span's attributes, replacing any incoming attribute with the same key.
pub fn add_attributes(attrs: &mut Vec<KeyValue>, extra: &[KeyValue]) {
    if attrs.iter().any(|kv| kv.key.starts_with("anomaly.")) {
        attrs.retain(|kv| !extra.iter().any(|e| e.key == kv.key));
    }
    attrs.extend(extra.iter().cloned());
}

/// Consumes a scored window and returns its spans, enriched.
pub fn enrich(window: Window, scores: &[WindowScore], window_attrs: &[KeyValue]) -> Vec<SpanRecord> {
    let mut traces = window.traces;
    for score in scores {
        for (index, extra) in &score.trace_attributes {
            if let Some(trace) = traces.get_mut(*index) {
                if let Some(root) = trace.root_index() {
                    add_attributes(&mut trace.spans[root].span.attributes, extra);
                }
            }
        }
    }
    let mut out = Vec::with_capacity(traces.iter().map(|t| t.spans.len()).sum());
    for trace in traces {
        for mut record in trace.spans {
            add_attributes(&mut record.span.attributes, window_attrs);
            out.push(record);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attributes::find;
    use opentelemetry_proto::tonic::common::v1::any_value::Value;

    #[test]
    fn client_cannot_preset_our_attributes() {
        let mut attrs = vec![boolean(attributes::DETECTED, false), string("http.method", "GET")];
        add_attributes(&mut attrs, &[boolean(attributes::DETECTED, true)]);
        assert_eq!(attrs.iter().filter(|kv| kv.key == attributes::DETECTED).count(), 1);
        assert_eq!(find(&attrs, attributes::DETECTED), Some(&Value::BoolValue(true)));
        assert_eq!(find(&attrs, "http.method"), Some(&Value::StringValue("GET".into())));
    }
}
