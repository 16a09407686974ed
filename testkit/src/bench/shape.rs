//! The benchmark's load: OTLP requests of `traces × spans` spans, shaped like real OnlineBoutique traces (service
//! and operation names, span kinds and call-tree sizes from `datasets/`), with `attributes` realistic attributes
//! per span (the dataset's spans carry none). One request is encoded once; every send copies those bytes and
//! patches the trace ids and timestamps in place, so the generator costs a memcpy per request — the thing measured
//! is the hop, not the sender.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use spanguard_processor::attributes::{int, string};

use crate::TestkitError;

/// What one request holds.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Traces per request.
    pub traces: usize,
    /// Spans per trace.
    pub spans: usize,
    /// Attributes per span.
    pub attributes: usize,
}

/// Trace ids of the template: this prefix, then the trace's index (u16 LE), then filler.
const TRACE_MARK: [u8; 8] = [0xa5, 0x5a, 0xc3, 0x3c, 0x96, 0x69, 0xf0, 0x0f];
/// Template timestamps carry these high 32 bits; the low 32 bits are the offset (ns) from the send time.
const START_MARK: u32 = 0x7ec4_b5a6;
const END_MARK: u32 = 0x7ec4_b5a7;
/// Protobuf tags of `Span.start_time_unix_nano` (field 7) and `end_time_unix_nano` (field 8), both fixed64.
const START_TAG: u8 = (7 << 3) | 1;
const END_TAG: u8 = (8 << 3) | 1;

/// One encoded request and where to patch it.
pub struct Template {
    bytes: Vec<u8>,
    /// (offset of a trace id, trace index in the request).
    trace_ids: Vec<(usize, u16)>,
    /// (offset of a timestamp's 8 bytes, ns after the send time).
    times: Vec<(usize, u64)>,
    /// Spans per request.
    pub spans: usize,
    /// The request, for training a model on the same shapes.
    pub request: ExportTraceServiceRequest,
}

/// Attribute keys a typical instrumented RPC span carries.
const KEYS: [&str; 12] = [
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "net.peer.name",
    "net.peer.port",
    "http.method",
    "http.status_code",
    "http.route",
    "app.user.id",
    "app.request.id",
    "k8s.pod.name",
    "thread.name",
];

fn attribute(i: usize, service: &str, operation: &str) -> KeyValue {
    let key = KEYS
        .get(i)
        .map(|k| (*k).to_owned())
        .unwrap_or_else(|| format!("app.attr.{i}"));
    match i {
        4 => int(&key, 8080),
        6 => int(&key, 200),
        0 => string(&key, "grpc"),
        1 => string(&key, format!("hipstershop.{service}")),
        2 | 7 => string(&key, operation),
        3 => string(&key, format!("{service}.default.svc.cluster.local")),
        5 => string(&key, "POST"),
        10 => string(&key, format!("{service}-7d9f8c6b5-x2k4q")),
        _ => string(&key, format!("{key}-value-{i:04}")),
    }
}

/// A span's service, name and kind.
type SpanShape = (String, String, i32);

/// (service, span name, kind) of the first `spans` spans, by start time, of every dataset trace that has that many.
fn dataset_traces(path: &Path, spans: usize) -> Result<Vec<Vec<SpanShape>>, TestkitError> {
    let file = spanguard_receiver::file::read_trace_file(path, true).map_err(TestkitError::Dataset)?;
    // trace id → (start, service, name, kind) of its spans
    type Spans = Vec<(u64, String, String, i32)>;
    let mut by_trace: BTreeMap<Vec<u8>, Spans> = BTreeMap::new();
    for req in &file.requests {
        for rs in &req.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
                .and_then(|kv| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                    Some(Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "unknown".into());
            for s in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
                by_trace.entry(s.trace_id.clone()).or_default().push((
                    s.start_time_unix_nano,
                    service.clone(),
                    s.name.clone(),
                    s.kind,
                ));
            }
        }
    }
    let out: Vec<_> = by_trace
        .into_values()
        .filter(|t| t.len() >= spans)
        .map(|mut t| {
            t.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.2.cmp(&b.2)));
            t.into_iter().take(spans).map(|(_, s, n, k)| (s, n, k)).collect()
        })
        .collect();
    if out.is_empty() {
        return Err(TestkitError::Shape(format!(
            "{} has no trace with {spans} spans or more",
            path.display()
        )));
    }
    Ok(out)
}

impl Template {
    /// Builds the template from the dataset's span shapes.
    pub fn from_dataset(path: &Path, shape: Shape) -> Result<Template, TestkitError> {
        if shape.traces == 0 || shape.traces > u16::MAX as usize || shape.spans == 0 || shape.spans > 255 {
            return Err(TestkitError::Shape(
                "a request needs 1..65535 traces of 1..255 spans".to_owned(),
            ));
        }
        let source = dataset_traces(path, shape.spans)?;
        let mut by_service: BTreeMap<String, Vec<Span>> = BTreeMap::new();
        for t in 0..shape.traces {
            let trace = &source[t * 7919 % source.len()];
            let mut trace_id = [0x11u8; 16];
            trace_id[..8].copy_from_slice(&TRACE_MARK);
            trace_id[8..10].copy_from_slice(&(t as u16).to_le_bytes());
            for (j, (service, name, kind)) in trace.iter().enumerate() {
                let span_id = |j: usize| {
                    let mut id = [0xbeu8; 8];
                    id[..2].copy_from_slice(&(t as u16).to_le_bytes());
                    id[2] = j as u8 + 1;
                    id.to_vec()
                };
                let offset = j as u64 * 10_000;
                by_service.entry(service.clone()).or_default().push(Span {
                    trace_id: trace_id.to_vec(),
                    span_id: span_id(j),
                    parent_span_id: if j == 0 { Vec::new() } else { span_id((j - 1) / 2) },
                    name: name.clone(),
                    kind: *kind,
                    start_time_unix_nano: (u64::from(START_MARK) << 32) | offset,
                    end_time_unix_nano: (u64::from(END_MARK) << 32) | (offset + 500_000),
                    attributes: (0..shape.attributes).map(|i| attribute(i, service, name)).collect(),
                    ..Default::default()
                });
            }
        }
        let request = ExportTraceServiceRequest {
            resource_spans: by_service
                .into_iter()
                .map(|(service, spans)| ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![string("service.name", service), string("telemetry.sdk.language", "go")],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(InstrumentationScope {
                            name: "go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc".into(),
                            ..Default::default()
                        }),
                        spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect(),
        };
        let bytes = request.encode_to_vec();
        let mut trace_ids = Vec::new();
        let mut times = Vec::new();
        let mut i = 0;
        while i + 16 <= bytes.len() {
            if bytes[i..i + 8] == TRACE_MARK {
                trace_ids.push((i, u16::from_le_bytes([bytes[i + 8], bytes[i + 9]])));
                i += 16;
                continue;
            }
            if (bytes[i] == START_TAG || bytes[i] == END_TAG) && i + 9 <= bytes.len() {
                let v = u64::from_le_bytes(bytes[i + 1..i + 9].try_into().unwrap_or([0; 8]));
                let mark = if bytes[i] == START_TAG { START_MARK } else { END_MARK };
                if (v >> 32) as u32 == mark {
                    times.push((i + 1, v & 0xffff_ffff));
                    i += 9;
                    continue;
                }
            }
            i += 1;
        }
        let spans = shape.traces * shape.spans;
        if trace_ids.len() != spans || times.len() != 2 * spans {
            return Err(TestkitError::Shape(format!(
                "template patch points: {} trace ids and {} timestamps for {spans} spans",
                trace_ids.len(),
                times.len()
            )));
        }
        Ok(Template {
            bytes,
            trace_ids,
            times,
            spans,
            request,
        })
    }

    /// Encoded size of one request.
    pub fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    /// Request number `seq` (its trace ids are unique to it), sent at `now_ns`.
    pub fn request(&self, seq: u64, now_ns: u64) -> Bytes {
        let mut b = self.bytes.clone();
        for &(at, t) in &self.trace_ids {
            b[at..at + 8].copy_from_slice(&seq.to_le_bytes());
            b[at + 8..at + 10].copy_from_slice(&t.to_le_bytes());
        }
        for &(at, offset) in &self.times {
            b[at..at + 8].copy_from_slice(&(now_ns + offset).to_le_bytes());
        }
        Bytes::from(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/onlineboutique.otlp.jsonl.gz")
    }

    #[test]
    fn patched_requests_decode_with_unique_trace_ids_and_the_send_time() {
        let shape = Shape {
            traces: 64,
            spans: 8,
            attributes: 10,
        };
        let t = Template::from_dataset(&dataset(), shape).unwrap();
        let now = 1_800_000_000_000_000_000;
        let a = ExportTraceServiceRequest::decode(t.request(7, now)).unwrap();
        let b = ExportTraceServiceRequest::decode(t.request(8, now + 5)).unwrap();
        let spans = |r: &ExportTraceServiceRequest| -> Vec<Span> {
            r.resource_spans
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .flat_map(|ss| ss.spans.clone())
                .collect()
        };
        let (sa, sb) = (spans(&a), spans(&b));
        assert_eq!(sa.len(), 512);
        let ids = |s: &[Span]| {
            s.iter()
                .map(|x| x.trace_id.clone())
                .collect::<std::collections::HashSet<_>>()
        };
        assert_eq!(ids(&sa).len(), 64);
        assert!(ids(&sa).is_disjoint(&ids(&sb)), "every request has its own traces");
        for s in &sa {
            assert!(s.start_time_unix_nano >= now && s.start_time_unix_nano < now + 1_000_000);
            assert!(s.end_time_unix_nano > s.start_time_unix_nano);
            assert_eq!(s.attributes.len(), 10);
            assert!(!s.name.is_empty());
        }
    }
}
