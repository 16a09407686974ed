//! Building OTLP traces by hand: a tree of (service, operation) calls with times, turned into one
//! `ExportTraceServiceRequest` with a resource per service — what an instrumented application would send.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

use super::rng::Rng;

/// One call in a trace being built.
#[derive(Debug, Clone)]
pub struct Call {
    /// Emitting service.
    pub service: &'static str,
    /// Operation (span name).
    pub name: &'static str,
    /// Index of the parent call, `None` for the root.
    pub parent: Option<usize>,
    /// Start, ns since the epoch.
    pub start: u64,
    /// End, ns since the epoch.
    pub end: u64,
    /// Extra attributes.
    pub attributes: Vec<(&'static str, Value)>,
}

/// A trace under construction.
#[derive(Debug, Default, Clone)]
pub struct TraceBuilder {
    /// Calls, root first.
    pub calls: Vec<Call>,
}

impl TraceBuilder {
    /// Adds a call and returns its index.
    pub fn call(
        &mut self,
        service: &'static str,
        name: &'static str,
        parent: Option<usize>,
        start: u64,
        dur: u64,
    ) -> usize {
        self.calls.push(Call {
            service,
            name,
            parent,
            start,
            end: start + dur.max(1),
            attributes: Vec::new(),
        });
        self.calls.len() - 1
    }

    /// Adds an attribute to call `i`.
    pub fn attr(&mut self, i: usize, key: &'static str, value: Value) {
        if let Some(c) = self.calls.get_mut(i) {
            c.attributes.push((key, value));
        }
    }

    /// The OTLP request, with random ids.
    pub fn build(&self, rng: &mut Rng) -> ExportTraceServiceRequest {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
        trace_id[8..].copy_from_slice(&(rng.next_u64() | 1).to_be_bytes());
        let ids: Vec<[u8; 8]> = self.calls.iter().map(|_| (rng.next_u64() | 1).to_be_bytes()).collect();
        let mut by_service: Vec<(&'static str, Vec<Span>)> = Vec::new();
        for (i, c) in self.calls.iter().enumerate() {
            let span = Span {
                trace_id: trace_id.to_vec(),
                span_id: ids[i].to_vec(),
                parent_span_id: c.parent.map(|p| ids[p].to_vec()).unwrap_or_default(),
                name: c.name.to_owned(),
                kind: if c.parent.is_none() { 2 } else { 1 },
                start_time_unix_nano: c.start,
                end_time_unix_nano: c.end,
                attributes: c.attributes.iter().map(|(k, v)| kv(k, v.clone())).collect(),
                ..Default::default()
            };
            match by_service.iter_mut().find(|(s, _)| *s == c.service) {
                Some((_, spans)) => spans.push(span),
                None => by_service.push((c.service, vec![span])),
            }
        }
        ExportTraceServiceRequest {
            resource_spans: by_service
                .into_iter()
                .map(|(service, spans)| ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![kv("service.name", Value::StringValue(service.to_owned()))],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "spanguard-workload".to_owned(),
                            ..Default::default()
                        }),
                        spans,
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                })
                .collect(),
        }
    }
}

/// A key-value attribute.
pub fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}
