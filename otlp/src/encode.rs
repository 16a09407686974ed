//! Span records back into an `ExportTraceServiceRequest`: one `ResourceSpans` per shared resource and one
//! `ScopeSpans` per shared scope, in the order they first appear, so the next hop sees the structure the spans
//! arrived in. The bytes are copied, never re-encoded: every length is computed once, bottom up, then each
//! level is written with its final length.

use bytes::BufMut;
use hashbrown::HashMap;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::Message;

use crate::record::SpanRecord;
use crate::wire::{len_field_size, put_len_header, WireError};
use crate::Request;

const RESOURCE_SPANS: u32 = 1;
const SCOPE_SPANS: u32 = 2;
const SPANS: u32 = 2;

/// Records grouped by resource, then scope, in first-appearance order.
struct Groups {
    /// (resource group, scope group) of each record, in record order.
    scopes: Vec<ScopeGroup>,
    resources: Vec<ResourceGroup>,
    /// Record indices sorted by scope group (stable).
    order: Vec<u32>,
}

struct ScopeGroup {
    resource: usize,
    first: usize,
    spans: usize,
    len: usize,
}

struct ResourceGroup {
    first: usize,
    scopes: Vec<usize>,
    len: usize,
}

fn group(records: &[SpanRecord]) -> Groups {
    let mut resource_of: HashMap<usize, usize> = HashMap::new();
    let mut scope_of: HashMap<(usize, usize), usize> = HashMap::new();
    let mut resources: Vec<ResourceGroup> = Vec::new();
    let mut scopes: Vec<ScopeGroup> = Vec::new();
    let mut keyed: Vec<(u32, u32)> = Vec::with_capacity(records.len());
    // Consecutive records usually share their group: remember the last one to skip the hash lookups.
    let mut last: Option<(usize, usize, usize)> = None;
    for (i, rec) in records.iter().enumerate() {
        let r = std::sync::Arc::as_ptr(&rec.resource) as usize;
        let s = std::sync::Arc::as_ptr(&rec.scope) as usize;
        let g = match last {
            Some((lr, ls, g)) if lr == r && ls == s => g,
            _ => {
                let ri = *resource_of.entry(r).or_insert_with(|| {
                    resources.push(ResourceGroup {
                        first: i,
                        scopes: Vec::new(),
                        len: rec.resource.head().len(),
                    });
                    resources.len() - 1
                });
                let g = *scope_of.entry((r, s)).or_insert_with(|| {
                    scopes.push(ScopeGroup {
                        resource: ri,
                        first: i,
                        spans: 0,
                        len: rec.scope.head().len(),
                    });
                    resources[ri].scopes.push(scopes.len() - 1);
                    scopes.len() - 1
                });
                last = Some((r, s, g));
                g
            }
        };
        let sg = &mut scopes[g];
        sg.spans += 1;
        sg.len += len_field_size(SPANS, rec.encoded_len());
        keyed.push((g as u32, i as u32));
    }
    for sg in &scopes {
        resources[sg.resource].len += len_field_size(SCOPE_SPANS, sg.len);
    }
    keyed.sort_unstable();
    Groups {
        scopes,
        resources,
        order: keyed.into_iter().map(|(_, i)| i).collect(),
    }
}

/// The encoded request carrying `records`.
pub fn encode_request(records: &[SpanRecord]) -> Vec<u8> {
    let plan = Plan::new(records);
    let mut out = Vec::with_capacity(plan.len());
    plan.write(&mut out);
    out
}

/// An encoding worked out (grouping, every length) before it is written, so that a caller can reserve its exact
/// size in a buffer of its own: the gRPC exporter writes straight into its transport's buffer.
pub struct Plan<'a> {
    records: &'a [SpanRecord],
    groups: Groups,
    /// Where each scope group's records start in `groups.order`.
    starts: Vec<usize>,
    len: usize,
}

impl<'a> Plan<'a> {
    /// Plans the request carrying `records`.
    pub fn new(records: &'a [SpanRecord]) -> Self {
        let groups = group(records);
        let len = groups
            .resources
            .iter()
            .map(|r| len_field_size(RESOURCE_SPANS, r.len))
            .sum();
        let mut starts = Vec::with_capacity(groups.scopes.len());
        let mut n = 0;
        for sg in &groups.scopes {
            starts.push(n);
            n += sg.spans;
        }
        Self {
            records,
            groups,
            starts,
            len,
        }
    }

    /// Encoded size.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the request.
    pub fn write(&self, out: &mut impl BufMut) {
        let (records, g) = (self.records, &self.groups);
        for rg in &g.resources {
            put_len_header(out, RESOURCE_SPANS, rg.len);
            out.put_slice(records[rg.first].resource.head());
            for &si in &rg.scopes {
                let sg = &g.scopes[si];
                put_len_header(out, SCOPE_SPANS, sg.len);
                out.put_slice(records[sg.first].scope.head());
                for &i in &g.order[self.starts[si]..self.starts[si] + sg.spans] {
                    let rec = &records[i as usize];
                    put_len_header(out, SPANS, rec.encoded_len());
                    rec.write(out);
                }
            }
        }
    }
}

/// The decoded request carrying `records` (the slow paths: JSON export, the file and debug exporters, tests).
pub fn to_request(records: &[SpanRecord]) -> Result<Request, WireError> {
    let plan = Plan::new(records);
    let (g, starts) = (&plan.groups, &plan.starts);
    let bad = |_| WireError::Truncated;
    let mut out = Request::default();
    for rg in &g.resources {
        let mut rs = ResourceSpans::decode(records[rg.first].resource.head()).map_err(bad)?;
        for &si in &rg.scopes {
            let sg = &g.scopes[si];
            let mut ss = ScopeSpans::decode(records[sg.first].scope.head()).map_err(bad)?;
            for &i in &g.order[starts[si]..starts[si] + sg.spans] {
                ss.spans.push(records[i as usize].to_span()?);
            }
            rs.scope_spans.push(ss);
        }
        out.resource_spans.push(rs);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{parse_request, Appended};
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::Span;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.into())),
            }),
            ..Default::default()
        }
    }

    fn span(n: u8, parent: u8) -> Span {
        Span {
            trace_id: vec![n; 16],
            span_id: vec![n; 8],
            parent_span_id: if parent == 0 { vec![] } else { vec![parent; 8] },
            name: format!("op{n}"),
            start_time_unix_nano: 1000 + u64::from(n),
            end_time_unix_nano: 2000 + u64::from(n),
            attributes: vec![kv("http.method", "GET"), kv("peer", "x")],
            ..Default::default()
        }
    }

    pub(crate) fn request() -> Request {
        Request {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![kv("service.name", "frontend")],
                        ..Default::default()
                    }),
                    scope_spans: vec![
                        ScopeSpans {
                            scope: Some(InstrumentationScope {
                                name: "lib1".into(),
                                ..Default::default()
                            }),
                            spans: vec![span(1, 0), span(2, 1)],
                            schema_url: "s1".into(),
                        },
                        ScopeSpans {
                            scope: None,
                            spans: vec![span(3, 1)],
                            schema_url: String::new(),
                        },
                    ],
                    schema_url: "r1".into(),
                },
                ResourceSpans {
                    resource: None,
                    scope_spans: vec![ScopeSpans {
                        spans: vec![span(4, 0)],
                        ..Default::default()
                    }],
                    schema_url: String::new(),
                },
            ],
        }
    }

    #[test]
    fn parse_then_encode_is_the_same_request() {
        let req = request();
        let records = parse_request(req.encode_to_vec().into()).unwrap();
        assert_eq!(records.len(), 4);
        assert_eq!(records[0].service(), "frontend");
        assert_eq!(records[3].service(), "unknown_service");
        assert_eq!(records[1].name(), "op2");
        assert_eq!(records[1].parent_span_id(), &[1; 8]);
        assert!(records[0].parent_span_id().is_empty());
        assert_eq!(records[2].trace_id(), &[3; 16]);
        assert_eq!(records[2].start_time_unix_nano(), 1003);
        assert_eq!(records[2].attribute_count(), 2);
        assert_eq!(crate::count_spans(&req.encode_to_vec()), 4);
        let bytes = encode_request(&records);
        assert_eq!(Request::decode(&bytes[..]).unwrap(), req);
        assert_eq!(to_request(&records).unwrap(), req);
        // Interleaved records regroup by resource and scope, keeping their order within a scope.
        let mixed = vec![
            records[3].clone(),
            records[0].clone(),
            records[2].clone(),
            records[1].clone(),
        ];
        let back = Request::decode(&encode_request(&mixed)[..]).unwrap();
        assert_eq!(back.resource_spans.len(), 2);
        assert_eq!(back.resource_spans[0].resource, None);
        let names: Vec<_> = back.resource_spans[1].scope_spans[0]
            .spans
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(names, ["op1", "op2"]);
    }

    #[test]
    fn appended_attributes_are_added_and_our_namespace_replaced() {
        let mut sent = span(1, 0);
        sent.attributes.push(kv("anomaly.detected", "false"));
        sent.attributes.push(kv("anomaly.other", "kept"));
        let req = Request {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![sent],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let mut records = parse_request(req.encode_to_vec().into()).unwrap();
        let window = std::sync::Arc::new(Appended::new(&[
            kv("anomaly.detected", "true"),
            kv("anomaly.window.id", "w"),
        ]));
        let late = std::sync::Arc::new(Appended::new(&[kv("anomaly.late", "true")]));
        let third = std::sync::Arc::new(Appended::new(&[kv("anomaly.third", "3")]));
        records[0].append(window);
        records[0].append(late);
        records[0].append(third);
        let out = Request::decode(&encode_request(&records)[..]).unwrap();
        let keys: Vec<(String, String)> = out.resource_spans[0].scope_spans[0].spans[0]
            .attributes
            .iter()
            .map(|kv| match &kv.value.as_ref().unwrap().value {
                Some(any_value::Value::StringValue(s)) => (kv.key.clone(), s.clone()),
                _ => unreachable!(),
            })
            .collect();
        let want = [
            ("http.method", "GET"),
            ("peer", "x"),
            ("anomaly.other", "kept"),
            ("anomaly.detected", "true"),
            ("anomaly.window.id", "w"),
            ("anomaly.late", "true"),
            ("anomaly.third", "3"),
        ];
        assert_eq!(keys, want.map(|(k, v)| (k.to_owned(), v.to_owned())));
        assert_eq!(
            records[0].name(),
            "op1",
            "fields stay readable after the bytes are rewritten"
        );
    }

    #[test]
    fn unknown_fields_travel_through() {
        let mut bytes = request().encode_to_vec();
        // An unknown field (number 99, varint 7) at the request level is dropped (it has no place in a
        // regrouped request); inside a span it is kept byte for byte.
        let mut rec = parse_request(bytes.clone().into()).unwrap().remove(0);
        let mut with_unknown = Vec::new();
        rec.write(&mut with_unknown);
        with_unknown.extend_from_slice(&[0x98, 0x06, 0x07]);
        rec = SpanRecord::from_bytes(rec.resource.clone(), rec.scope.clone(), with_unknown.clone().into()).unwrap();
        let out = encode_request(std::slice::from_ref(&rec));
        assert!(out.windows(3).any(|w| w == [0x98, 0x06, 0x07]));
        bytes.extend_from_slice(&[0x98, 0x06, 0x07]);
        assert_eq!(parse_request(bytes.into()).unwrap().len(), 4);
    }

    #[test]
    fn what_prost_refuses_is_refused() {
        let good = request().encode_to_vec();
        // Every truncation and every single-byte corruption: whenever prost refuses, so do we; whenever we
        // accept, prost accepts and sees the same request.
        let mut variants: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
        for i in 0..good.len() {
            for b in [0x00u8, 0x01, 0x07, 0x80, 0xff, 0x0a, 0x12, 0xc0] {
                let mut v = good.clone();
                v[i] = b;
                variants.push(v);
            }
        }
        for v in variants {
            let ours = parse_request(v.clone().into());
            let theirs = Request::decode(&v[..]);
            match (ours, theirs) {
                (Ok(records), Ok(req)) => {
                    assert_eq!(Request::decode(&encode_request(&records)[..]).unwrap(), drop_empty(req));
                }
                (Err(_), Err(_)) => {}
                (ours, theirs) => panic!("disagree on {v:?}: ours {:?}, prost {:?}", ours.err(), theirs.err()),
            }
        }
    }

    /// What a request looks like after regrouping: containers without spans are not carried.
    pub(crate) fn drop_empty(mut req: Request) -> Request {
        for rs in &mut req.resource_spans {
            rs.scope_spans.retain(|ss| !ss.spans.is_empty());
        }
        req.resource_spans.retain(|rs| !rs.scope_spans.is_empty());
        req
    }

    #[test]
    fn modify_goes_through_the_decoded_span() {
        let mut rec = parse_request(request().encode_to_vec().into()).unwrap().remove(1);
        rec.append(std::sync::Arc::new(Appended::new(&[kv("anomaly.late", "true")])));
        let n = rec
            .modify(|s| {
                s.attributes.truncate(1);
                s.attributes.len()
            })
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(rec.attribute_count(), 1);
        assert_eq!(rec.name(), "op2");
        assert_eq!(rec.to_span().unwrap().attributes, vec![kv("http.method", "GET")]);
    }
}
