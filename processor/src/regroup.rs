//! Regrouping: records back into an OTLP request, one `ResourceSpans` per shared resource and one `ScopeSpans`
//! per shared scope, so the next hop sees the same structure the spans arrived in.

use std::sync::Arc;

use hashbrown::HashMap;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

use crate::{Request, SpanRecord};

/// Builds one request from `records`, preserving their order within each scope.
pub fn regroup(records: impl IntoIterator<Item = SpanRecord>) -> Request {
    let mut out: Vec<ResourceSpans> = Vec::new();
    let mut resources: HashMap<usize, usize> = HashMap::new();
    let mut scopes: HashMap<(usize, usize), usize> = HashMap::new();
    for rec in records {
        let rkey = Arc::as_ptr(&rec.resource) as usize;
        let ri = *resources.entry(rkey).or_insert_with(|| {
            out.push(ResourceSpans {
                resource: rec.resource.resource.clone(),
                scope_spans: Vec::new(),
                schema_url: rec.resource.schema_url.clone(),
            });
            out.len() - 1
        });
        let skey = (rkey, Arc::as_ptr(&rec.scope) as usize);
        let scope_spans = &mut out[ri].scope_spans;
        let si = *scopes.entry(skey).or_insert_with(|| {
            scope_spans.push(ScopeSpans {
                scope: rec.scope.scope.clone(),
                spans: Vec::new(),
                schema_url: rec.scope.schema_url.clone(),
            });
            scope_spans.len() - 1
        });
        scope_spans[si].spans.push(rec.span);
    }
    Request { resource_spans: out }
}

/// Spans in a request.
pub fn span_count(req: &Request) -> usize {
    req.resource_spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .map(|ss| ss.spans.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::split_request;
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::Span;

    #[test]
    fn split_then_regroup_is_identity() {
        let span = |n: u8| Span {
            trace_id: vec![n; 16],
            span_id: vec![n; 8],
            name: format!("s{n}"),
            ..Default::default()
        };
        let req = Request {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![crate::attributes::string("service.name", "a")],
                        ..Default::default()
                    }),
                    scope_spans: vec![
                        ScopeSpans {
                            scope: Some(InstrumentationScope {
                                name: "lib1".into(),
                                ..Default::default()
                            }),
                            spans: vec![span(1), span(2)],
                            schema_url: "s1".into(),
                        },
                        ScopeSpans {
                            scope: None,
                            spans: vec![span(3)],
                            schema_url: String::new(),
                        },
                    ],
                    schema_url: "r1".into(),
                },
                ResourceSpans {
                    resource: None,
                    scope_spans: vec![ScopeSpans {
                        spans: vec![span(4)],
                        ..Default::default()
                    }],
                    schema_url: String::new(),
                },
            ],
        };
        let mut records = Vec::new();
        split_request(req.clone(), |r| records.push(r));
        assert_eq!(&*records[0].resource.service, "a");
        assert_eq!(&*records[3].resource.service, "unknown_service");
        assert_eq!(regroup(records), req);
    }
}
