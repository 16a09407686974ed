//! Enrichment: every span of a scored window gets the window's `anomaly.*` attributes, and root spans get their
//! trace's own. Nothing else about a span changes.
//!
//! spanguard owns the `anomaly.` namespace: an incoming attribute with a key spanguard sets is replaced, never
//! duplicated — otherwise a client could pre-set `anomaly.detected=false` and hide its traces from a search.
//!
//! **Chained hops** (a sidecar's spanguard forwarding to a collector-side one) keep each other's verdicts. A span
//! that arrives with a verdict is merged, never overwritten:
//! - `anomaly.detected` is true when it arrived true, or arrived naming detectors, or this hop's detectors fired;
//!   `anomaly.detectors` is the union, the upstream's first — so the two never contradict each other;
//! - `anomaly.window.*` stay the first verdict's (the window the trace was first scored in, which the upstream
//!   incident links from); this hop's own window is in its own incidents' links;
//! - this hop's detector attributes (`anomaly.<detector>.*`) replace the same keys, others stay.
//!
//! A client cannot hide by pre-setting a verdict: the merge only ever adds detections. Pre-setting one flags its
//! own traces, nothing else.

use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
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

/// A verdict a span arrived with (from an upstream hop).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Upstream {
    detected: bool,
    detectors: Vec<String>,
    has_window: bool,
}

impl Upstream {
    /// The verdict `record` arrived with, if any.
    fn of(record: &SpanRecord) -> Option<Self> {
        if !record.has_anomaly_attributes() {
            return None;
        }
        let detected = matches!(
            record.attribute(attributes::DETECTED).and_then(|v| v.value),
            Some(Value::BoolValue(true))
        );
        let detectors: Vec<String> = match record.attribute(attributes::DETECTORS).and_then(|v| v.value) {
            Some(Value::ArrayValue(a)) => a
                .values
                .into_iter()
                .filter_map(|v| match v.value {
                    Some(Value::StringValue(s)) => Some(s),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let has_window = record.attribute(attributes::WINDOW_ID).is_some();
        (detected || !detectors.is_empty() || has_window).then_some(Self {
            detected,
            detectors,
            has_window,
        })
    }

    /// This hop's window attributes merged with the verdict (see the module's rule).
    fn merge(&self, own: &[KeyValue]) -> Vec<KeyValue> {
        let mut detectors = self.detectors.clone();
        if let Some(Value::ArrayValue(a)) = attributes::find(own, attributes::DETECTORS) {
            for v in &a.values {
                if let Some(Value::StringValue(d)) = &v.value {
                    if !detectors.contains(d) {
                        detectors.push(d.clone());
                    }
                }
            }
        }
        let own_detected = matches!(
            attributes::find(own, attributes::DETECTED),
            Some(Value::BoolValue(true))
        );
        let detected = self.detected || own_detected || !detectors.is_empty();
        let window_keys = [
            attributes::WINDOW_ID,
            attributes::WINDOW_TRACES,
            attributes::WINDOW_PARTIAL,
        ];
        let mut out: Vec<KeyValue> = own
            .iter()
            .filter(|kv| kv.key != attributes::DETECTED && kv.key != attributes::DETECTORS)
            .filter(|kv| !(self.has_window && window_keys.contains(&kv.key.as_str())))
            .cloned()
            .collect();
        out.push(boolean(attributes::DETECTED, detected));
        if !detectors.is_empty() {
            out.push(strings(attributes::DETECTORS, detectors));
        }
        out
    }
}

/// Consumes a scored window and returns its spans, enriched: the window's attributes `own` (encoded once as
/// `shared`, for every span that arrives without a verdict) merged with the verdict a span arrived with, and, on
/// root spans, their trace's own.
pub fn enrich(window: Window, scores: &[WindowScore], own: &[KeyValue], shared: &Arc<Appended>) -> Vec<SpanRecord> {
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
    // A window's spans mostly share one upstream verdict: each distinct one is encoded once.
    let mut merged: Vec<(Upstream, Arc<Appended>)> = Vec::new();
    for trace in traces {
        for mut record in trace.spans {
            let attrs = match Upstream::of(&record) {
                None => Arc::clone(shared),
                Some(up) => match merged.iter().find(|(u, _)| *u == up) {
                    Some((_, a)) => Arc::clone(a),
                    None => {
                        let a = Arc::new(Appended::new(&up.merge(own)));
                        merged.push((up, Arc::clone(&a)));
                        a
                    }
                },
            };
            record.append(attrs);
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
        let own = [boolean(attributes::DETECTED, true)];
        let attrs = Arc::new(Appended::new(&own));
        let out = enrich(window, &[], &own, &attrs);
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

    fn arriving_with(attrs: Vec<KeyValue>) -> Window {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![1; 8],
            attributes: attrs,
            ..Default::default()
        };
        let rec =
            SpanRecord::from_span(Arc::new(ResourceCtx::default()), Arc::new(ScopeCtx::default()), &span).unwrap();
        Window::new(
            "hop2-0",
            0,
            vec![Trace {
                id: [1; 16],
                spans: vec![rec],
            }],
            false,
        )
    }

    #[test]
    fn a_second_hop_keeps_the_first_ones_verdict_and_merges_its_own() {
        let upstream = vec![
            boolean(attributes::DETECTED, true),
            strings(attributes::DETECTORS, ["frequency"]),
            string(attributes::WINDOW_ID, "hop1-7"),
            string("anomaly.frequency.distance", "0.9"),
        ];
        // Hop 2 without detectors: its window says "not detected".
        let own = vec![
            string(attributes::WINDOW_ID, "hop2-0"),
            int(attributes::WINDOW_TRACES, 1),
            boolean(attributes::DETECTED, false),
        ];
        let shared = Arc::new(Appended::new(&own));
        let out = enrich(arriving_with(upstream.clone()), &[], &own, &shared);
        let attrs = out[0].to_span().unwrap().attributes;
        let get = |k| attributes::find(&attrs, k).cloned();
        assert_eq!(get(attributes::DETECTED), Some(Value::BoolValue(true)));
        assert_eq!(attrs.iter().filter(|kv| kv.key == attributes::DETECTED).count(), 1);
        assert_eq!(get(attributes::WINDOW_ID), Some(Value::StringValue("hop1-7".into())));
        assert!(
            get("anomaly.frequency.distance").is_some(),
            "the upstream detector's attributes stay"
        );
        // Hop 2's own detector fires too: the union, upstream first.
        let own = vec![
            string(attributes::WINDOW_ID, "hop2-0"),
            boolean(attributes::DETECTED, true),
            strings(attributes::DETECTORS, ["graph"]),
        ];
        let out = enrich(arriving_with(upstream), &[], &own, &Arc::new(Appended::new(&own)));
        let attrs = out[0].to_span().unwrap().attributes;
        match attributes::find(&attrs, attributes::DETECTORS) {
            Some(Value::ArrayValue(a)) => {
                let names: Vec<_> = a.values.iter().filter_map(|v| v.value.clone()).collect();
                assert_eq!(
                    names,
                    vec![
                        Value::StringValue("frequency".into()),
                        Value::StringValue("graph".into())
                    ]
                );
            }
            other => panic!("{other:?}"),
        }
        // Detectors named but "not detected" (a forgery, or a broken hop) reads as detected: never a contradiction.
        let forged = vec![
            boolean(attributes::DETECTED, false),
            strings(attributes::DETECTORS, ["frequency"]),
        ];
        let own = vec![boolean(attributes::DETECTED, false)];
        let out = enrich(arriving_with(forged), &[], &own, &Arc::new(Appended::new(&own)));
        let attrs = out[0].to_span().unwrap().attributes;
        assert_eq!(
            attributes::find(&attrs, attributes::DETECTED),
            Some(&Value::BoolValue(true))
        );
    }
}
