use spanguard_telemetry::{names, Counter, Gauge, Registry};

/// One exporter's counters.
#[derive(Clone)]
pub(crate) struct ExporterMetrics {
    pub sent: Counter,
    pub retries: Counter,
    pub queue_length: Gauge,
    pub dropped_retries_exhausted: Counter,
    pub dropped_permanent: Counter,
    pub dropped_shutdown: Counter,
    pub dropped_rejected: Counter,
}

impl ExporterMetrics {
    pub(crate) fn new(registry: &Registry, exporter: &str, capacity: usize) -> Self {
        let dropped = |reason| {
            registry.counter(
                &names::EXPORTER_DROPPED_SPANS,
                &[("exporter", exporter), ("reason", reason)],
            )
        };
        registry
            .gauge(&names::EXPORTER_QUEUE_CAPACITY, &[("exporter", exporter)])
            .set(capacity as i64);
        Self {
            sent: registry.counter(&names::EXPORTER_SENT_SPANS, &[("exporter", exporter)]),
            retries: registry.counter(&names::EXPORTER_RETRIES, &[("exporter", exporter)]),
            queue_length: registry.gauge(&names::EXPORTER_QUEUE_LENGTH, &[("exporter", exporter)]),
            dropped_retries_exhausted: dropped("retries_exhausted"),
            dropped_permanent: dropped("permanent_error"),
            dropped_shutdown: dropped("shutdown"),
            dropped_rejected: dropped("rejected_by_peer"),
        }
    }
}
