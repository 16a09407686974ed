//! The single door into the pipeline, shared by every protocol: validate the spans, count them, and try to hand
//! the request on without waiting — a full pipeline is reported to the client as backpressure.

use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use spanguard_otlp::SpanRecord;
use spanguard_telemetry::{names, Counter, Registry};
use tokio::sync::mpsc;

/// Which protocol a request came in on (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC.
    Grpc,
    /// OTLP/HTTP.
    Http,
}

impl Protocol {
    fn label(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        }
    }
}

/// Why a request was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The pipeline is full: retry later (429 / UNAVAILABLE).
    Backpressure,
    /// The pipeline holds as much as its memory limit allows: retry later (429 / UNAVAILABLE).
    MemoryLimit,
    /// The pipeline is shutting down (503 / UNAVAILABLE).
    ShuttingDown,
}

/// An admitted request: how many spans were rejected as invalid (OTLP partial success).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admitted {
    /// Spans dropped because their ids are malformed.
    pub rejected_spans: i64,
    /// Why, for the partial-success message.
    pub message: String,
}

impl Admitted {
    /// The OTLP response: success, with `partial_success` when spans were rejected.
    pub fn response(self) -> ExportTraceServiceResponse {
        ExportTraceServiceResponse {
            partial_success: (self.rejected_spans > 0).then_some(ExportTracePartialSuccess {
                rejected_spans: self.rejected_spans,
                error_message: self.message,
            }),
        }
    }
}

struct ProtocolCounters {
    accepted: Counter,
    backpressure: Counter,
    memory: Counter,
    requests_memory: Counter,
    invalid_id: Counter,
    requests_backpressure: Counter,
    requests_malformed: Counter,
    requests_too_large: Counter,
    requests_media_type: Counter,
    requests_unauthenticated: Counter,
    too_many_spans: Counter,
    truncated_attributes: Counter,
    truncated_values: Counter,
}

impl ProtocolCounters {
    fn new(registry: &Registry, protocol: Protocol) -> Self {
        let p = protocol.label();
        let refused = |reason| registry.counter(&names::RECEIVER_REFUSED_SPANS, &[("protocol", p), ("reason", reason)]);
        let requests = |reason| {
            registry.counter(
                &names::RECEIVER_REFUSED_REQUESTS,
                &[("protocol", p), ("reason", reason)],
            )
        };
        Self {
            accepted: registry.counter(&names::RECEIVER_ACCEPTED_SPANS, &[("protocol", p)]),
            backpressure: refused("backpressure"),
            memory: refused("memory_limit"),
            requests_memory: requests("memory_limit"),
            invalid_id: refused("invalid_trace_id"),
            requests_backpressure: requests("backpressure"),
            requests_malformed: requests("malformed"),
            requests_too_large: requests("too_large"),
            requests_media_type: requests("unsupported_media_type"),
            requests_unauthenticated: requests("unauthenticated"),
            too_many_spans: refused("too_many_spans"),
            truncated_attributes: registry
                .counter(&names::RECEIVER_TRUNCATED, &[("protocol", p), ("what", "attributes")]),
            truncated_values: registry.counter(
                &names::RECEIVER_TRUNCATED,
                &[("protocol", p), ("what", "attribute_values")],
            ),
        }
    }
}

/// Why a request was refused before it could be decoded (for counting; its spans are unknown).
#[derive(Debug, Clone, Copy)]
pub(crate) enum EarlyRefusal {
    Malformed,
    TooLarge,
    MediaType,
    Unauthenticated,
}

/// The door into the pipeline. Cheap to clone.
#[derive(Clone)]
pub struct Admission {
    tx: mpsc::Sender<Vec<SpanRecord>>,
    counters: std::sync::Arc<[ProtocolCounters; 2]>,
    token: Option<crate::auth::BearerToken>,
    limits: std::sync::Arc<crate::limits::Limits>,
    budget: crate::memory::Budget,
}

impl Admission {
    /// A door feeding `tx`, counting into `registry`.
    pub fn new(tx: mpsc::Sender<Vec<SpanRecord>>, registry: &Registry) -> Self {
        Self {
            tx,
            counters: std::sync::Arc::new([
                ProtocolCounters::new(registry, Protocol::Grpc),
                ProtocolCounters::new(registry, Protocol::Http),
            ]),
            token: None,
            limits: Default::default(),
            budget: crate::memory::Budget::unlimited(),
        }
    }

    /// Holds what is admitted within `budget` (the memory limit).
    pub fn with_budget(mut self, budget: crate::memory::Budget) -> Self {
        self.budget = budget;
        self
    }

    /// Applies `limits` to every request.
    pub fn with_limits(mut self, limits: crate::limits::Limits) -> Self {
        self.limits = std::sync::Arc::new(limits);
        self
    }

    /// Requires senders to present `token` (`authorization: Bearer <token>`).
    pub fn with_token(mut self, token: Option<crate::auth::BearerToken>) -> Self {
        self.token = token;
        self
    }

    /// Whether a request with this `authorization` value may enter; a refusal is counted.
    pub(crate) fn authorize(&self, protocol: Protocol, authorization: Option<&[u8]>) -> bool {
        let ok = self.token.as_ref().is_none_or(|t| t.accepts(authorization));
        if !ok {
            self.count_early_refusal(protocol, EarlyRefusal::Unauthenticated);
        }
        ok
    }

    fn counters(&self, protocol: Protocol) -> &ProtocolCounters {
        &self.counters[protocol as usize]
    }

    pub(crate) fn count_early_refusal(&self, protocol: Protocol, why: EarlyRefusal) {
        let c = self.counters(protocol);
        match why {
            EarlyRefusal::Malformed => c.requests_malformed.inc(),
            EarlyRefusal::TooLarge => c.requests_too_large.inc(),
            EarlyRefusal::MediaType => c.requests_media_type.inc(),
            EarlyRefusal::Unauthenticated => c.requests_unauthenticated.inc(),
        }
    }

    /// Refuses a request without looking inside it when the pipeline is already full: under overload, scanning a
    /// request that cannot be taken is wasted work (it was half of spanguard's CPU at twice its capacity).
    /// Its spans are counted as refused all the same.
    pub fn refuse_when_full(&self, protocol: Protocol, body: &[u8]) -> Result<(), Refusal> {
        if self.budget.full() {
            self.count_memory_refusal(protocol, spanguard_otlp::count_spans(body));
            return Err(Refusal::MemoryLimit);
        }
        if self.tx.capacity() > 0 {
            return Ok(());
        }
        let c = self.counters(protocol);
        c.backpressure.add(spanguard_otlp::count_spans(body) as u64);
        c.requests_backpressure.inc();
        Err(if self.tx.is_closed() {
            Refusal::ShuttingDown
        } else {
            Refusal::Backpressure
        })
    }

    fn count_memory_refusal(&self, protocol: Protocol, spans: usize) {
        let c = self.counters(protocol);
        c.memory.add(spans as u64);
        c.requests_memory.inc();
    }

    /// Takes a protobuf request `body` into the memory budget before it is scanned (its span records will be
    /// slices of the returned bytes); refused when the pipeline holds too much already.
    pub fn hold(&self, protocol: Protocol, body: bytes::Bytes) -> Result<bytes::Bytes, Refusal> {
        let spans = spanguard_otlp::count_spans(&body);
        self.budget.hold(body, spans).ok_or_else(|| {
            self.count_memory_refusal(protocol, spans);
            Refusal::MemoryLimit
        })
    }

    /// Takes records made by decoding (OTLP/JSON) into the memory budget: their encoded spans move into one
    /// buffer the budget holds, and the records become slices of it, as a protobuf request's are.
    pub fn hold_records(&self, protocol: Protocol, records: Vec<SpanRecord>) -> Result<Vec<SpanRecord>, Refusal> {
        let mut buf = Vec::with_capacity(records.iter().map(SpanRecord::encoded_len).sum());
        let mut ends = Vec::with_capacity(records.len());
        for r in &records {
            r.write(&mut buf);
            ends.push(buf.len());
        }
        let held = self.budget.hold(buf.into(), records.len()).ok_or_else(|| {
            self.count_memory_refusal(protocol, records.len());
            Refusal::MemoryLimit
        })?;
        let mut start = 0;
        Ok(records
            .into_iter()
            .zip(ends)
            .map(|(r, end)| {
                let slice = held.slice(start..end);
                start = end;
                // The bytes are the record's own, already checked: this cannot fail, and a record that somehow
                // did would stay outside the budget rather than be lost.
                SpanRecord::from_bytes(r.resource.clone(), r.scope.clone(), slice).unwrap_or(r)
            })
            .collect())
    }

    /// Validates `records` (spans with malformed ids are removed and reported as a partial success) and hands the
    /// rest to the pipeline without waiting.
    pub fn admit(&self, protocol: Protocol, mut records: Vec<SpanRecord>) -> Result<Admitted, Refusal> {
        let c = self.counters(protocol);
        let before = records.len();
        records.retain(SpanRecord::has_valid_ids);
        let invalid = (before - records.len()) as u64;
        if invalid > 0 {
            c.invalid_id.add(invalid);
        }
        let (kept, excess) = self.apply_limits(c, &mut records);
        let rejected = invalid + excess;
        let mut message = String::new();
        if invalid > 0 {
            message =
                format!("{invalid} span(s) rejected: trace_id must be 16 non-zero bytes and span_id 8 non-zero bytes");
        }
        if excess > 0 {
            if !message.is_empty() {
                message.push_str("; ");
            }
            message.push_str(&format!(
                "{excess} span(s) rejected: over max_spans_per_request ({})",
                self.limits.max_spans_per_request
            ));
        }
        let admitted = Admitted {
            rejected_spans: rejected as i64,
            message,
        };
        if kept == 0 {
            return Ok(admitted);
        }
        match self.tx.try_send(records) {
            Ok(()) => {
                c.accepted.add(kept);
                Ok(admitted)
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                c.backpressure.add(kept);
                c.requests_backpressure.inc();
                Err(Refusal::Backpressure)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                c.backpressure.add(kept);
                c.requests_backpressure.inc();
                Err(Refusal::ShuttingDown)
            }
        }
    }
}

impl Admission {
    /// Drops the spans beyond `max_spans_per_request` and applies the per-span limits; returns (kept, rejected).
    /// A span within the limits is not decoded: its attribute count and its largest attribute's encoded size
    /// (a bound on any value's length) were read when it was scanned.
    fn apply_limits(&self, c: &ProtocolCounters, records: &mut Vec<SpanRecord>) -> (u64, u64) {
        let limits = &*self.limits;
        let excess = records.len().saturating_sub(limits.max_spans_per_request) as u64;
        records.truncate(limits.max_spans_per_request);
        let mut truncated = crate::limits::Truncated::default();
        for rec in records.iter_mut() {
            if rec.attribute_count() <= limits.max_attributes_per_span
                && rec.longest_attribute() <= limits.max_attribute_value_length
            {
                continue;
            }
            if let Ok(t) = rec.modify(|span| crate::limits::limit_span(span, limits)) {
                truncated.attributes += t.attributes;
                truncated.values += t.values;
            }
        }
        if truncated.attributes > 0 {
            c.truncated_attributes.add(truncated.attributes);
        }
        if truncated.values > 0 {
            c.truncated_values.add(truncated.values);
        }
        if excess > 0 {
            c.too_many_spans.add(excess);
        }
        (records.len() as u64, excess)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    fn span(trace: u8, span: u8) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![span; 8],
            ..Default::default()
        }
    }

    fn request(spans: Vec<Span>) -> Vec<SpanRecord> {
        spanguard_otlp::from_request(&crate::Request {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                ..Default::default()
            }],
        })
        .unwrap()
    }

    #[tokio::test]
    async fn rejects_bad_ids_and_applies_backpressure() {
        let registry = Registry::new();
        let (tx, mut rx) = mpsc::channel(1);
        let door = Admission::new(tx, &registry);
        let mut bad = span(1, 1);
        bad.trace_id = vec![0; 16];
        let got = door.admit(Protocol::Grpc, request(vec![span(1, 1), bad])).unwrap();
        assert_eq!(got.rejected_spans, 1);
        assert_eq!(rx.recv().await.unwrap().len(), 1);

        door.admit(Protocol::Http, request(vec![span(2, 2)])).unwrap();
        assert_eq!(
            door.admit(Protocol::Http, request(vec![span(3, 3)])),
            Err(Refusal::Backpressure)
        );
        assert_eq!(
            registry.counter_value(&names::RECEIVER_ACCEPTED_SPANS, &[("protocol", "http")]),
            1
        );
        assert_eq!(
            registry.counter_value(
                &names::RECEIVER_REFUSED_SPANS,
                &[("protocol", "http"), ("reason", "backpressure")]
            ),
            1
        );
        assert_eq!(
            registry.counter_value(
                &names::RECEIVER_REFUSED_SPANS,
                &[("protocol", "grpc"), ("reason", "invalid_trace_id")]
            ),
            1
        );
    }

    #[tokio::test]
    async fn a_full_pipeline_refuses_before_the_scan_and_counts_the_spans() {
        use prost::Message;
        let registry = Registry::new();
        let (tx, _rx) = mpsc::channel(1);
        let door = Admission::new(tx, &registry);
        let body = crate::Request {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span(1, 1), span(1, 2), span(2, 1)],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
        .encode_to_vec();
        assert_eq!(door.refuse_when_full(Protocol::Grpc, &body), Ok(()));
        door.admit(Protocol::Grpc, request(vec![span(9, 9)])).unwrap();
        assert_eq!(door.refuse_when_full(Protocol::Grpc, &body), Err(Refusal::Backpressure));
        assert_eq!(
            registry.counter_value(
                &names::RECEIVER_REFUSED_SPANS,
                &[("protocol", "grpc"), ("reason", "backpressure")]
            ),
            3
        );
    }

    #[tokio::test]
    async fn all_rejected_is_not_forwarded() {
        let (tx, mut rx) = mpsc::channel(1);
        let door = Admission::new(tx, &Registry::new());
        let mut bad = span(1, 1);
        bad.span_id = vec![1; 3];
        assert_eq!(
            door.admit(Protocol::Grpc, request(vec![bad])).unwrap().rejected_spans,
            1
        );
        assert!(rx.try_recv().is_err());
    }
}
