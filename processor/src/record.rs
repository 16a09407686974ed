//! A span detached from its request: it keeps shared handles to its resource and scope so that it can travel
//! alone through assembly and windowing and be regrouped on the way out, unchanged.

use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::{any_value, InstrumentationScope};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::Request;

/// The resource a span came with, shared by all spans of that resource in the request.
#[derive(Debug, Default)]
pub struct ResourceCtx {
    /// The resource as received.
    pub resource: Option<Resource>,
    /// `ResourceSpans.schema_url` as received.
    pub schema_url: String,
    /// `service.name`, looked up once here rather than once per span by every detector.
    pub service: Arc<str>,
}

/// The instrumentation scope a span came with.
#[derive(Debug, Default)]
pub struct ScopeCtx {
    /// The scope as received.
    pub scope: Option<InstrumentationScope>,
    /// `ScopeSpans.schema_url` as received.
    pub schema_url: String,
}

/// One span with its context.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// Shared resource.
    pub resource: Arc<ResourceCtx>,
    /// Shared scope.
    pub scope: Arc<ScopeCtx>,
    /// The span itself.
    pub span: Span,
}

impl SpanRecord {
    /// The service that emitted the span (`unknown_service` when the resource has none, as the SDKs do).
    pub fn service(&self) -> &str {
        &self.resource.service
    }
}

/// `service.name` of a resource.
pub fn service_name(resource: Option<&Resource>) -> Arc<str> {
    resource
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| match &v.value {
            Some(any_value::Value::StringValue(s)) => Some(Arc::from(s.as_str())),
            _ => None,
        })
        .unwrap_or_else(|| Arc::from("unknown_service"))
}

/// Splits a request into records, calling `sink` for each, without copying any span.
pub fn split_request(req: Request, mut sink: impl FnMut(SpanRecord)) {
    for rs in req.resource_spans {
        let resource = Arc::new(ResourceCtx {
            service: service_name(rs.resource.as_ref()),
            resource: rs.resource,
            schema_url: rs.schema_url,
        });
        for ss in rs.scope_spans {
            let scope = Arc::new(ScopeCtx {
                scope: ss.scope,
                schema_url: ss.schema_url,
            });
            for span in ss.spans {
                sink(SpanRecord {
                    resource: Arc::clone(&resource),
                    scope: Arc::clone(&scope),
                    span,
                });
            }
        }
    }
}
