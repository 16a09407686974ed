//! Protobuf encoding of an outgoing batch, byte for byte what `prost` writes, with each span's length computed
//! once. prost writes a nested message's length before its body, so encoding a request computes every span's
//! length once per enclosing level (request, resource, scope, the span's own prefix): four times. Spans are
//! nearly all of a batch, and that recomputation was 8–10 % of the pass-through's CPU (`perf`, BENCHMARKS.md).

use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};
use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, WireType};
use prost::Message;

use crate::Request;

/// Encodes `req` exactly as `req.encode_to_vec()` would.
pub(crate) fn encode_request(req: &Request) -> Vec<u8> {
    // Span lengths in document order, computed once; the sizes of the enclosing levels follow from them.
    let span_lens: Vec<usize> = req
        .resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .map(Message::encoded_len)
        .collect();
    let mut next = 0;
    let mut sizes = Vec::with_capacity(req.resource_spans.len());
    for rs in &req.resource_spans {
        let mut scope_sizes = Vec::with_capacity(rs.scope_spans.len());
        for ss in &rs.scope_spans {
            let lens = &span_lens[next..next + ss.spans.len()];
            next += ss.spans.len();
            scope_sizes.push(scope_len(ss, lens));
        }
        sizes.push((resource_len(rs, &scope_sizes), scope_sizes));
    }
    let total: usize = sizes.iter().map(|(len, _)| delimited(1, *len)).sum();
    let mut buf = Vec::with_capacity(total);
    let mut lens = span_lens.iter();
    for (rs, (len, scope_sizes)) in req.resource_spans.iter().zip(&sizes) {
        encode_key(1, WireType::LengthDelimited, &mut buf);
        encode_varint(*len as u64, &mut buf);
        if let Some(resource) = &rs.resource {
            prost::encoding::message::encode(1, resource, &mut buf);
        }
        for (ss, scope_size) in rs.scope_spans.iter().zip(scope_sizes) {
            encode_key(2, WireType::LengthDelimited, &mut buf);
            encode_varint(*scope_size as u64, &mut buf);
            if let Some(scope) = &ss.scope {
                prost::encoding::message::encode(1, scope, &mut buf);
            }
            for span in &ss.spans {
                encode_key(2, WireType::LengthDelimited, &mut buf);
                encode_varint(lens.next().copied().unwrap_or_default() as u64, &mut buf);
                span.encode_raw(&mut buf);
            }
            if !ss.schema_url.is_empty() {
                prost::encoding::string::encode(3, &ss.schema_url, &mut buf);
            }
        }
        if !rs.schema_url.is_empty() {
            prost::encoding::string::encode(3, &rs.schema_url, &mut buf);
        }
    }
    buf
}

/// A length-delimited field: key, length, body.
fn delimited(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

fn scope_len(ss: &ScopeSpans, span_lens: &[usize]) -> usize {
    ss.scope
        .as_ref()
        .map_or(0, |s| prost::encoding::message::encoded_len(1, s))
        + span_lens.iter().map(|&l| delimited(2, l)).sum::<usize>()
        + string_len(3, &ss.schema_url)
}

fn resource_len(rs: &ResourceSpans, scope_sizes: &[usize]) -> usize {
    rs.resource
        .as_ref()
        .map_or(0, |r| prost::encoding::message::encoded_len(1, r))
        + scope_sizes.iter().map(|&l| delimited(2, l)).sum::<usize>()
        + string_len(3, &rs.schema_url)
}

/// A string field as prost writes it: absent when empty (proto3 default).
fn string_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        delimited(tag, s.len())
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::Span;

    use super::*;

    fn span(i: usize) -> Span {
        Span {
            trace_id: vec![i as u8 + 1; 16],
            span_id: vec![7; 8],
            name: "x".repeat(i * 40),
            start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            attributes: (0..i % 12)
                .map(|k| KeyValue {
                    key: format!("attr.{k}"),
                    value: Some(AnyValue {
                        value: Some(Value::StringValue("v".repeat(k * 30))),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn matches_prost_byte_for_byte() {
        let mut i = 0;
        let mut spans = |n: usize| {
            (0..n)
                .map(|_| {
                    i += 1;
                    span(i)
                })
                .collect::<Vec<_>>()
        };
        let req = Request {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![KeyValue {
                            key: "service.name".into(),
                            value: Some(AnyValue {
                                value: Some(Value::StringValue("cart".into())),
                            }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    scope_spans: vec![
                        ScopeSpans {
                            scope: Some(InstrumentationScope {
                                name: "lib".into(),
                                ..Default::default()
                            }),
                            spans: spans(5),
                            schema_url: "https://opentelemetry.io/schemas/1.21.0".into(),
                        },
                        ScopeSpans {
                            scope: None,
                            spans: spans(0),
                            schema_url: String::new(),
                        },
                        ScopeSpans {
                            scope: Some(InstrumentationScope::default()),
                            spans: spans(9),
                            schema_url: String::new(),
                        },
                    ],
                    schema_url: "s".repeat(300),
                },
                ResourceSpans {
                    resource: None,
                    scope_spans: vec![],
                    schema_url: String::new(),
                },
                ResourceSpans {
                    resource: Some(Resource::default()),
                    scope_spans: vec![ScopeSpans {
                        scope: None,
                        spans: spans(3),
                        schema_url: String::new(),
                    }],
                    schema_url: String::new(),
                },
            ],
        };
        assert_eq!(encode_request(&req), req.encode_to_vec());
        assert_eq!(encode_request(&Request::default()), Request::default().encode_to_vec());
    }
}
