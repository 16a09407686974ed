//! Every metric spanguard exports, each declared once with what it counts (its `# HELP`), its kind and its
//! labels; the registry checks each registration against its descriptor. The README's "Metrics" table lists
//! these; keep them in step.

/// A counter only goes up; a gauge goes up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `# TYPE … counter`.
    Counter,
    /// `# TYPE … gauge`.
    Gauge,
}

impl Kind {
    /// Its name in the Prometheus text format.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// A metric's descriptor.
#[derive(Debug, PartialEq, Eq)]
pub struct Metric {
    /// Its name, `spanguard_…` (`_total` for counters).
    pub name: &'static str,
    /// What it counts, for the `# HELP` line.
    pub help: &'static str,
    /// Counter or gauge.
    pub kind: Kind,
    /// Its label keys, in the order every series gives them.
    pub labels: &'static [&'static str],
}

/// Spans accepted by a receiver (label `protocol`).
pub static RECEIVER_ACCEPTED_SPANS: Metric = Metric {
    name: "spanguard_receiver_accepted_spans_total",
    help: "Spans accepted by a receiver.",
    kind: Kind::Counter,
    labels: &["protocol"],
};
/// Spans refused by a receiver (labels `protocol`, `reason`: backpressure, invalid_trace_id, too_many_spans). Spans of a request
/// that cannot be decoded cannot be counted: see [`RECEIVER_REFUSED_REQUESTS`].
pub static RECEIVER_REFUSED_SPANS: Metric = Metric {
    name: "spanguard_receiver_refused_spans_total",
    help: "Spans refused by a receiver, by reason.",
    kind: Kind::Counter,
    labels: &["protocol", "reason"],
};
/// Requests refused by a receiver (labels `protocol`, `reason`: backpressure, malformed, too_large,
/// unsupported_media_type, unauthenticated).
pub static RECEIVER_REFUSED_REQUESTS: Metric = Metric {
    name: "spanguard_receiver_refused_requests_total",
    help: "Requests refused by a receiver, by reason.",
    kind: Kind::Counter,
    labels: &["protocol", "reason"],
};
/// Connections a receiver closed before any request (labels `protocol`, `reason`: tls_handshake — a failed or
/// timed-out TLS handshake, e.g. a plaintext client, an untrusted or missing client certificate).
pub static RECEIVER_REFUSED_CONNECTIONS: Metric = Metric {
    name: "spanguard_receiver_refused_connections_total",
    help: "Connections refused by a receiver before any request, by reason.",
    kind: Kind::Counter,
    labels: &["protocol", "reason"],
};
/// What a receiver truncated to its limits (labels `protocol`, `what`: attributes — dropped beyond
/// `max_attributes_per_span`; attribute_values — strings cut to `max_attribute_value_length`).
pub static RECEIVER_TRUNCATED: Metric = Metric {
    name: "spanguard_receiver_truncated_total",
    help: "Attributes dropped and values shortened to the receiver's limits.",
    kind: Kind::Counter,
    labels: &["protocol", "what"],
};

/// Traces being assembled.
pub static PROCESSOR_TRACES_IN_FLIGHT: Metric = Metric {
    name: "spanguard_processor_traces_in_flight",
    help: "Traces being assembled.",
    kind: Kind::Gauge,
    labels: &[],
};
/// Spans being assembled.
pub static PROCESSOR_SPANS_IN_FLIGHT: Metric = Metric {
    name: "spanguard_processor_spans_in_flight",
    help: "Spans being assembled.",
    kind: Kind::Gauge,
    labels: &[],
};
/// Traces completed (label `reason`: trace_wait, max_traces, max_spans, shutdown).
pub static PROCESSOR_TRACES_COMPLETED: Metric = Metric {
    name: "spanguard_processor_traces_completed_total",
    help: "Traces completed, by reason.",
    kind: Kind::Counter,
    labels: &["reason"],
};
/// Spans that arrived after their trace had been forwarded; forwarded with `anomaly.late = true`.
pub static PROCESSOR_LATE_SPANS: Metric = Metric {
    name: "spanguard_processor_late_spans_total",
    help: "Spans that arrived after their trace was forwarded (forwarded with anomaly.late=true).",
    kind: Kind::Counter,
    labels: &[],
};
/// Windows scored (label `partial`: true when closed by timeout or shutdown before filling).
pub static PROCESSOR_WINDOWS: Metric = Metric {
    name: "spanguard_processor_windows_total",
    help: "Windows scored.",
    kind: Kind::Counter,
    labels: &["partial"],
};
/// Windows flagged (label `detector`).
pub static PROCESSOR_ANOMALIES: Metric = Metric {
    name: "spanguard_processor_anomalies_total",
    help: "Windows flagged, by detector.",
    kind: Kind::Counter,
    labels: &["detector"],
};
/// Spans handed to the exporters.
pub static PROCESSOR_FORWARDED_SPANS: Metric = Metric {
    name: "spanguard_processor_forwarded_spans_total",
    help: "Spans handed to the exporters.",
    kind: Kind::Counter,
    labels: &[],
};
/// Incident spans emitted (one per anomalous window).
pub static PROCESSOR_INCIDENTS: Metric = Metric {
    name: "spanguard_processor_incidents_total",
    help: "Incident spans emitted, one per anomalous window.",
    kind: Kind::Counter,
    labels: &[],
};

/// Exchange events fed to the graph detector.
pub static GRAPH_EVENTS: Metric = Metric {
    name: "spanguard_graph_events_total",
    help: "Exchange events fed to the graph detector.",
    kind: Kind::Counter,
    labels: &[],
};
/// Intervals scored by the graph detector (label `anomalous`).
pub static GRAPH_INTERVALS: Metric = Metric {
    name: "spanguard_graph_intervals_total",
    help: "Intervals scored by the graph detector.",
    kind: Kind::Counter,
    labels: &["anomalous"],
};
/// Scored intervals dropped because the processor had not taken the last ones (it was stalled).
pub static GRAPH_INTERVALS_DROPPED: Metric = Metric {
    name: "spanguard_graph_intervals_dropped_total",
    help: "Scored intervals the processor was too busy to take.",
    kind: Kind::Counter,
    labels: &[],
};
/// Malformed lines skipped by the `file` event source.
pub static GRAPH_BAD_EVENT_LINES: Metric = Metric {
    name: "spanguard_graph_bad_event_lines_total",
    help: "Malformed lines skipped by the file event source.",
    kind: Kind::Counter,
    labels: &[],
};

/// 1 when the graph detector's live event source (eBPF probe or procfs) runs, 0 when it could not start.
pub static PROBE_AVAILABLE: Metric = Metric {
    name: "spanguard_probe_available",
    help: "1 when the live event source runs.",
    kind: Kind::Gauge,
    labels: &["source"],
};
/// Events the live event source produced (label `source`).
pub static PROBE_EVENTS: Metric = Metric {
    name: "spanguard_probe_events_total",
    help: "Events from the live source.",
    kind: Kind::Counter,
    labels: &["source"],
};
/// What the eBPF probe could not record (label `reason`: ringbuf_full, aggregation_map_full, unresolved_fd).
pub static PROBE_DROPPED: Metric = Metric {
    name: "spanguard_probe_dropped_total",
    help: "What the eBPF probe could not record.",
    kind: Kind::Counter,
    labels: &["reason"],
};

/// Spans delivered by an exporter (label `exporter`).
pub static EXPORTER_SENT_SPANS: Metric = Metric {
    name: "spanguard_exporter_sent_spans_total",
    help: "Spans delivered by an exporter.",
    kind: Kind::Counter,
    labels: &["exporter"],
};
/// Spans an exporter gave up on (labels `exporter`, `reason`: retries_exhausted, permanent_error, shutdown,
/// rejected_by_peer).
pub static EXPORTER_DROPPED_SPANS: Metric = Metric {
    name: "spanguard_exporter_dropped_spans_total",
    help: "Spans an exporter gave up on, by reason.",
    kind: Kind::Counter,
    labels: &["exporter", "reason"],
};
/// Export attempts retried (label `exporter`).
pub static EXPORTER_RETRIES: Metric = Metric {
    name: "spanguard_exporter_retries_total",
    help: "Export attempts retried.",
    kind: Kind::Counter,
    labels: &["exporter"],
};
/// Batches waiting in an exporter's queue (label `exporter`).
pub static EXPORTER_QUEUE_LENGTH: Metric = Metric {
    name: "spanguard_exporter_queue_length",
    help: "Batches waiting in an exporter's queue.",
    kind: Kind::Gauge,
    labels: &["exporter"],
};
/// Capacity of an exporter's queue, in batches (label `exporter`).
pub static EXPORTER_QUEUE_CAPACITY: Metric = Metric {
    name: "spanguard_exporter_queue_capacity",
    help: "Capacity of an exporter's queue, in batches.",
    kind: Kind::Gauge,
    labels: &["exporter"],
};

/// Bytes the pipeline holds of accepted spans (gauge).
pub static MEMORY_HELD: Metric = Metric {
    name: "spanguard_memory_held_bytes",
    help: "Bytes the pipeline holds of accepted spans (their requests' bodies and per-span bookkeeping).",
    kind: Kind::Gauge,
    labels: &[],
};
/// The memory limit (gauge).
pub static MEMORY_LIMIT: Metric = Metric {
    name: "spanguard_memory_limit_bytes",
    help: "The memory limit (processors.anomaly.memory_limit), bytes.",
    kind: Kind::Gauge,
    labels: &[],
};
