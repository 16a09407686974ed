//! Every metric spanguard exports. The README's "Metrics" table lists these; keep them in step.

/// Spans accepted by a receiver (label `protocol`).
pub const RECEIVER_ACCEPTED_SPANS: &str = "spanguard_receiver_accepted_spans_total";
/// Spans refused by a receiver (labels `protocol`, `reason`: backpressure, invalid_trace_id, too_many_spans). Spans of a request
/// that cannot be decoded cannot be counted: see [`RECEIVER_REFUSED_REQUESTS`].
pub const RECEIVER_REFUSED_SPANS: &str = "spanguard_receiver_refused_spans_total";
/// Requests refused by a receiver (labels `protocol`, `reason`: backpressure, malformed, too_large,
/// unsupported_media_type, unauthenticated).
pub const RECEIVER_REFUSED_REQUESTS: &str = "spanguard_receiver_refused_requests_total";
/// Connections a receiver closed before any request (labels `protocol`, `reason`: tls_handshake — a failed or
/// timed-out TLS handshake, e.g. a plaintext client, an untrusted or missing client certificate).
pub const RECEIVER_REFUSED_CONNECTIONS: &str = "spanguard_receiver_refused_connections_total";
/// What a receiver truncated to its limits (labels `protocol`, `what`: attributes — dropped beyond
/// `max_attributes_per_span`; attribute_values — strings cut to `max_attribute_value_length`).
pub const RECEIVER_TRUNCATED: &str = "spanguard_receiver_truncated_total";

/// Traces being assembled.
pub const PROCESSOR_TRACES_IN_FLIGHT: &str = "spanguard_processor_traces_in_flight";
/// Spans being assembled.
pub const PROCESSOR_SPANS_IN_FLIGHT: &str = "spanguard_processor_spans_in_flight";
/// Traces completed (label `reason`: trace_wait, max_traces, max_spans, shutdown).
pub const PROCESSOR_TRACES_COMPLETED: &str = "spanguard_processor_traces_completed_total";
/// Spans that arrived after their trace had been forwarded; forwarded with `anomaly.late = true`.
pub const PROCESSOR_LATE_SPANS: &str = "spanguard_processor_late_spans_total";
/// Windows scored (label `partial`: true when closed by timeout or shutdown before filling).
pub const PROCESSOR_WINDOWS: &str = "spanguard_processor_windows_total";
/// Windows flagged (label `detector`).
pub const PROCESSOR_ANOMALIES: &str = "spanguard_processor_anomalies_total";
/// Spans handed to the exporters.
pub const PROCESSOR_FORWARDED_SPANS: &str = "spanguard_processor_forwarded_spans_total";
/// Incident spans emitted (one per anomalous window).
pub const PROCESSOR_INCIDENTS: &str = "spanguard_processor_incidents_total";

/// Exchange events fed to the graph detector.
pub const GRAPH_EVENTS: &str = "spanguard_graph_events_total";
/// Intervals scored by the graph detector (label `anomalous`).
pub const GRAPH_INTERVALS: &str = "spanguard_graph_intervals_total";
/// Scored intervals dropped because the processor had not taken the last ones (it was stalled).
pub const GRAPH_INTERVALS_DROPPED: &str = "spanguard_graph_intervals_dropped_total";
/// Malformed lines skipped by the `file` event source.
pub const GRAPH_BAD_EVENT_LINES: &str = "spanguard_graph_bad_event_lines_total";

/// 1 when the graph detector's live event source (eBPF probe or procfs) runs, 0 when it could not start.
pub const PROBE_AVAILABLE: &str = "spanguard_probe_available";
/// Events the live event source produced (label `source`).
pub const PROBE_EVENTS: &str = "spanguard_probe_events_total";
/// What the eBPF probe could not record (label `reason`: ringbuf_full, aggregation_map_full, unresolved_fd).
pub const PROBE_DROPPED: &str = "spanguard_probe_dropped_total";

/// Spans delivered by an exporter (label `exporter`).
pub const EXPORTER_SENT_SPANS: &str = "spanguard_exporter_sent_spans_total";
/// Spans an exporter gave up on (labels `exporter`, `reason`: retries_exhausted, permanent_error, shutdown,
/// rejected_by_peer).
pub const EXPORTER_DROPPED_SPANS: &str = "spanguard_exporter_dropped_spans_total";
/// Export attempts retried (label `exporter`).
pub const EXPORTER_RETRIES: &str = "spanguard_exporter_retries_total";
/// Batches waiting in an exporter's queue (label `exporter`).
pub const EXPORTER_QUEUE_LENGTH: &str = "spanguard_exporter_queue_length";
/// Capacity of an exporter's queue, in batches (label `exporter`).
pub const EXPORTER_QUEUE_CAPACITY: &str = "spanguard_exporter_queue_capacity";

/// Bytes the pipeline holds of accepted spans (gauge).
pub const MEMORY_HELD: &str = "spanguard_memory_held_bytes";
/// The memory limit (gauge).
pub const MEMORY_LIMIT: &str = "spanguard_memory_limit_bytes";
