//! A span detached from its request, kept in the bytes it arrived in. Only what assembly and the detectors read
//! (ids, name, times) is picked out; the rest is never decoded, and on the way out the span is written back
//! byte for byte with the attributes spanguard adds appended after it — protobuf lets a repeated field continue
//! after the rest of a message, so `span bytes ++ attribute fields` is the span with those attributes added.

use std::sync::Arc;

use bytes::Bytes;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use crate::scan::{self, SpanFields};
use crate::wire::{len, put_len_header, string, Reader, Value, WireError};
use crate::Request;

/// The resource spans arrived with, shared by all of them: its `ResourceSpans` fields other than the spans
/// (resource, schema URL, fields newer than ours), still encoded.
#[derive(Debug)]
pub struct ResourceCtx {
    head: Bytes,
    service: Arc<str>,
}

impl ResourceCtx {
    /// From decoded parts (spans built in process, tests).
    pub fn new(resource: Option<Resource>, schema_url: String) -> Self {
        let head = ResourceSpans {
            resource,
            scope_spans: Vec::new(),
            schema_url,
        }
        .encode_to_vec();
        // Encoded by prost just above: it splits without error; the fallback only keeps this infallible.
        split_resource(&head).map_or_else(
            |_| Self {
                head: head.clone().into(),
                service: Arc::from(UNKNOWN_SERVICE),
            },
            |(ctx, _)| ctx,
        )
    }

    /// A resource with just `service.name` (spans spanguard makes itself, tests).
    pub fn for_service(service: &str) -> Self {
        let kv = KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(service.into())),
            }),
            ..Default::default()
        };
        Self::new(
            Some(Resource {
                attributes: vec![kv],
                ..Default::default()
            }),
            String::new(),
        )
    }

    /// `service.name` (`unknown_service` when the resource has none, as the SDKs say).
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The encoded `ResourceSpans` fields other than `scope_spans`.
    pub fn head(&self) -> &[u8] {
        &self.head
    }
}

/// The instrumentation scope spans arrived with: its `ScopeSpans` fields other than the spans, still encoded.
#[derive(Debug)]
pub struct ScopeCtx {
    head: Bytes,
}

impl ScopeCtx {
    /// From decoded parts.
    pub fn new(scope: Option<InstrumentationScope>, schema_url: String) -> Self {
        let head = ScopeSpans {
            scope,
            spans: Vec::new(),
            schema_url,
        }
        .encode_to_vec();
        Self { head: head.into() }
    }

    /// The encoded `ScopeSpans` fields other than `spans`.
    pub fn head(&self) -> &[u8] {
        &self.head
    }
}

impl Default for ResourceCtx {
    fn default() -> Self {
        Self::new(None, String::new())
    }
}

impl Default for ScopeCtx {
    fn default() -> Self {
        Self::new(None, String::new())
    }
}

const UNKNOWN_SERVICE: &str = "unknown_service";

/// Attributes added to spans on the way out, encoded once and shared by every span that gets them.
#[derive(Debug, Default)]
pub struct Appended {
    encoded: Vec<u8>,
    keys: Vec<String>,
}

impl Appended {
    /// Encodes `attrs` as `Span.attributes` fields.
    pub fn new(attrs: &[KeyValue]) -> Self {
        let mut encoded = Vec::with_capacity(attrs.iter().map(|kv| kv.encoded_len() + 3).sum());
        for kv in attrs {
            put_len_header(&mut encoded, ATTRIBUTES, kv.encoded_len());
            // Encoding into a Vec cannot fail.
            let _ = kv.encode(&mut encoded);
        }
        Self {
            encoded,
            keys: attrs.iter().map(|kv| kv.key.clone()).collect(),
        }
    }

    /// The encoded attribute fields.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }
}

const ATTRIBUTES: u32 = 9;

/// One span with its context.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    /// Shared resource.
    pub resource: Arc<ResourceCtx>,
    /// Shared scope.
    pub scope: Arc<ScopeCtx>,
    bytes: Bytes,
    trace_id: [u8; 16],
    span_id: [u8; 8],
    /// The parent id when it is 8 bytes (all but malformed spans), so that assembly and the detectors never
    /// go back to the span's bytes, long out of cache by the time a window is scored.
    parent_id: [u8; 8],
    parent: (u32, u32),
    name: (u32, u32),
    name_hash: u64,
    start: u64,
    end: u64,
    attributes: u32,
    longest_attribute: u32,
    anomaly_keys: bool,
    appended: [Option<Arc<Appended>>; 2],
}

fn offset(whole: &[u8], part: &[u8]) -> (u32, u32) {
    if part.is_empty() {
        return (0, 0);
    }
    (
        (part.as_ptr() as usize - whole.as_ptr() as usize) as u32,
        part.len() as u32,
    )
}

impl SpanRecord {
    /// A record of the encoded span `bytes` (a `Span` message's content), checked.
    pub fn from_bytes(resource: Arc<ResourceCtx>, scope: Arc<ScopeCtx>, bytes: Bytes) -> Result<Self, WireError> {
        let f = scan::span(&bytes)?;
        Ok(Self::with_fields(resource, scope, &bytes, &f))
    }

    fn with_fields(resource: Arc<ResourceCtx>, scope: Arc<ScopeCtx>, bytes: &Bytes, f: &SpanFields<'_>) -> Self {
        Self {
            trace_id: f.trace_id.try_into().unwrap_or([0; 16]),
            span_id: f.span_id.try_into().unwrap_or([0; 8]),
            parent_id: f.parent_span_id.try_into().unwrap_or([0; 8]),
            parent: offset(bytes, f.parent_span_id),
            name: offset(bytes, f.name.as_bytes()),
            name_hash: name_hash(f.name),
            start: f.start_time_unix_nano,
            end: f.end_time_unix_nano,
            attributes: f.attributes,
            longest_attribute: f.longest_attribute,
            anomaly_keys: f.anomaly_keys,
            appended: [None, None],
            resource,
            scope,
            bytes: bytes.clone(),
        }
    }

    /// A record of a decoded span (spans built in process, JSON input, tests).
    pub fn from_span(resource: Arc<ResourceCtx>, scope: Arc<ScopeCtx>, span: &Span) -> Result<Self, WireError> {
        Self::from_bytes(resource, scope, span.encode_to_vec().into())
    }

    /// The service that emitted the span.
    pub fn service(&self) -> &str {
        self.resource.service()
    }

    /// The trace id; all zeros when the span's is not 16 bytes (the receiver refuses those).
    pub fn trace_id(&self) -> &[u8; 16] {
        &self.trace_id
    }

    /// The span id; all zeros when the span's is not 8 bytes (the receiver refuses those).
    pub fn span_id(&self) -> &[u8; 8] {
        &self.span_id
    }

    /// Both ids present and non-zero: a span that can be assembled into a trace.
    pub fn has_valid_ids(&self) -> bool {
        self.trace_id != [0; 16] && self.span_id != [0; 8]
    }

    /// The parent span id as sent; empty for a root.
    pub fn parent_span_id(&self) -> &[u8] {
        match self.parent {
            (_, 0) => &[],
            (_, 8) => &self.parent_id,
            (at, n) => self.bytes.get(at as usize..(at + n) as usize).unwrap_or_default(),
        }
    }

    /// [`name_hash`] of the span's name, computed while the span was scanned (and in cache).
    pub fn name_hash(&self) -> u64 {
        self.name_hash
    }

    /// The span's name.
    pub fn name(&self) -> &str {
        let (at, n) = self.name;
        // Checked to be UTF-8 when the record was made.
        crate::wire::utf8(5, self.bytes.get(at as usize..(at + n) as usize).unwrap_or_default()).unwrap_or_default()
    }

    /// Start, ns since the epoch.
    pub fn start_time_unix_nano(&self) -> u64 {
        self.start
    }

    /// End, ns since the epoch.
    pub fn end_time_unix_nano(&self) -> u64 {
        self.end
    }

    /// Attributes the span arrived with.
    pub fn attribute_count(&self) -> usize {
        self.attributes as usize
    }

    /// Encoded size of its largest attribute (a bound on any of its values' length).
    pub fn longest_attribute(&self) -> usize {
        self.longest_attribute as usize
    }

    /// Encoded size of the span as it will leave (its bytes and what was appended).
    pub fn encoded_len(&self) -> usize {
        self.bytes.len() + self.appended.iter().flatten().map(|a| a.encoded.len()).sum::<usize>()
    }

    /// Appends the span's encoding (without tag or length) to `out`.
    pub fn write(&self, out: &mut impl bytes::BufMut) {
        out.put_slice(&self.bytes);
        for a in self.appended.iter().flatten() {
            out.put_slice(&a.encoded);
        }
    }

    /// The span arrived with attributes under `anomaly.`: an upstream spanguard's verdict, or a client's.
    pub fn has_anomaly_attributes(&self) -> bool {
        self.anomaly_keys
    }

    /// The value of the span's own attribute `key` (the last one, as a decoder keeps), decoded; `None` when it
    /// has none (what was appended is not looked at).
    pub fn attribute(&self, key: &str) -> Option<AnyValue> {
        let mut r = Reader::new(&self.bytes);
        let mut found = None;
        while let Ok(Some((f, v))) = r.next_field(4) {
            if f != ATTRIBUTES {
                continue;
            }
            let Ok(kv) = len(f, v) else { continue };
            if scan::key_value(kv, 5).is_ok_and(|(k, _)| k == key) {
                found = KeyValue::decode(kv).ok().and_then(|kv| kv.value);
            }
        }
        found
    }

    /// Adds `attrs` to the span. spanguard owns the `anomaly.` namespace: an attribute the span arrived with
    /// under one of these keys is removed first, so a client cannot pre-set `anomaly.detected=false` and hide
    /// from a search.
    pub fn append(&mut self, attrs: Arc<Appended>) {
        if self.anomaly_keys {
            self.remove_attributes(&attrs.keys);
        }
        if let Some(slot) = self.appended.iter_mut().find(|s| s.is_none()) {
            *slot = Some(attrs);
            return;
        }
        // More than two additions (not made by the pipeline today): fold the earlier ones into the bytes.
        let mut bytes = Vec::with_capacity(self.encoded_len());
        self.write(&mut bytes);
        if self.replace_bytes(bytes.into()).is_ok() {
            self.appended = [Some(attrs), None];
        }
    }

    /// Makes `bytes` the span's, keeping what was appended; on a scan error (never for bytes made from a
    /// checked span) the record is left as it was.
    fn replace_bytes(&mut self, bytes: Bytes) -> Result<(), WireError> {
        let f = scan::span(&bytes)?;
        let appended = std::mem::take(&mut self.appended);
        *self = Self::with_fields(self.resource.clone(), self.scope.clone(), &bytes, &f);
        self.appended = appended;
        Ok(())
    }

    fn remove_attributes(&mut self, keys: &[String]) {
        let mut out = Vec::with_capacity(self.bytes.len());
        let mut r = Reader::new(&self.bytes);
        let mut at = 0;
        let mut removed = false;
        while let Ok(Some((f, v))) = r.next_field(4) {
            let end = r.pos();
            let drop = f == ATTRIBUTES
                && len(f, v)
                    .ok()
                    .and_then(|kv| scan::key_value(kv, 5).ok())
                    .map(|(k, _)| k)
                    .is_some_and(|k| keys.iter().any(|key| key == k));
            if drop {
                removed = true;
            } else {
                out.extend_from_slice(&self.bytes[at..end]);
            }
            at = end;
        }
        if removed {
            // Removing whole fields from a checked span leaves a checked span.
            let _ = self.replace_bytes(out.into());
        }
    }

    /// Changes the span through its decoded form (the rare paths: limits exceeded). What was appended is
    /// folded in.
    pub fn modify<T>(&mut self, f: impl FnOnce(&mut Span) -> T) -> Result<T, WireError> {
        let mut span = self.to_span()?;
        let out = f(&mut span);
        self.replace_bytes(span.encode_to_vec().into())?;
        self.appended = [None, None];
        Ok(out)
    }

    /// The span decoded, with what was appended (the slow paths: JSON export, the debug exporter, tests).
    pub fn to_span(&self) -> Result<Span, WireError> {
        let mut bytes = Vec::with_capacity(self.encoded_len());
        self.write(&mut bytes);
        Span::decode(&bytes[..]).map_err(|_| WireError::Truncated)
    }
}

/// A hash of a span name, keyed once per process (crafted names cannot be made to collide without the key):
/// the detectors identify operations by it without reading the name from the span's bytes again.
pub fn name_hash(name: &str) -> u64 {
    use std::hash::BuildHasher;
    static KEY: std::sync::OnceLock<hashbrown::DefaultHashBuilder> = std::sync::OnceLock::new();
    KEY.get_or_init(Default::default).hash_one(name)
}

/// Splits an encoded `ExportTraceServiceRequest` into span records, checking all of it first: a malformed
/// request yields an error and no records. The records share `body` (no span is copied).
pub fn parse_request(body: Bytes) -> Result<Vec<SpanRecord>, WireError> {
    let mut out = Vec::new();
    let mut r = Reader::new(&body);
    while let Some((f, v)) = r.next_field(0)? {
        if f == 1 {
            resource_spans(&body, len(f, v)?, &mut out)?;
        }
    }
    Ok(out)
}

/// Splits a container (`ResourceSpans`, `ScopeSpans`) into its head — every field but the repeated children
/// (field 2), still encoded, in order — and its children; `check` checks each head field.
fn split_container<'a>(
    buf: &'a [u8],
    depth: u32,
    mut check: impl FnMut(u32, Value<'a>) -> Result<(), WireError>,
) -> Result<(Vec<u8>, Vec<&'a [u8]>), WireError> {
    let mut head = Vec::new();
    let mut children = Vec::new();
    let mut r = Reader::new(buf);
    let mut at = 0;
    while let Some((f, v)) = r.next_field(depth)? {
        if f == 2 {
            children.push(len(f, v)?);
        } else {
            check(f, v)?;
            head.extend_from_slice(&buf[at..r.pos()]);
        }
        at = r.pos();
    }
    Ok((head, children))
}

/// A `ResourceSpans`: its context (head and service) and its scope spans, still encoded.
fn split_resource(buf: &[u8]) -> Result<(ResourceCtx, Vec<&[u8]>), WireError> {
    let mut service: Option<Option<&str>> = None;
    let (head, scopes) = split_container(buf, 1, |f, v| {
        match f {
            1 => {
                let s = scan::resource(len(f, v)?, 2)?;
                service.get_or_insert(s);
            }
            3 => {
                string(f, v)?;
            }
            _ => {}
        }
        Ok(())
    })?;
    let ctx = ResourceCtx {
        head: head.into(),
        service: Arc::from(service.flatten().unwrap_or(UNKNOWN_SERVICE)),
    };
    Ok((ctx, scopes))
}

fn resource_spans(body: &Bytes, buf: &[u8], out: &mut Vec<SpanRecord>) -> Result<(), WireError> {
    let (ctx, scopes) = split_resource(buf)?;
    let resource = Arc::new(ctx);
    for scope in scopes {
        scope_spans(body, &resource, scope, out)?;
    }
    Ok(())
}

fn scope_spans(
    body: &Bytes,
    resource: &Arc<ResourceCtx>,
    buf: &[u8],
    out: &mut Vec<SpanRecord>,
) -> Result<(), WireError> {
    let (head, spans) = split_container(buf, 2, |f, v| match f {
        1 => scan::scope(len(f, v)?, 3),
        3 => string(f, v).map(|_| ()),
        _ => Ok(()),
    })?;
    let scope = Arc::new(ScopeCtx { head: head.into() });
    out.reserve(spans.len());
    for span in spans {
        let f = scan::span(span)?;
        let bytes = body.slice_ref(span);
        out.push(SpanRecord::with_fields(resource.clone(), scope.clone(), &bytes, &f));
    }
    Ok(())
}

/// Spans in an encoded request, counted without checking them (a request refused before it is scanned is still
/// counted by its spans); stops at the first malformed container.
pub fn count_spans(body: &[u8]) -> usize {
    fn count(buf: &[u8], field: u32, depth: u32, inner: &dyn Fn(&[u8]) -> usize) -> usize {
        let mut n = 0;
        let mut r = Reader::new(buf);
        while let Ok(Some((f, v))) = r.next_field(depth) {
            if let (true, Ok(b)) = (f == field, len(f, v)) {
                n += inner(b);
            }
        }
        n
    }
    count(body, 1, 0, &|rs| count(rs, 2, 1, &|ss| count(ss, 2, 2, &|_| 1)))
}

/// The records of a decoded request (JSON input, spans built in process): encoded, then split.
pub fn from_request(req: &Request) -> Result<Vec<SpanRecord>, WireError> {
    parse_request(req.encode_to_vec().into())
}
