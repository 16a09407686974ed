use spanguard_telemetry::{names, Counter, Gauge, Registry};

use crate::Completion;

/// The processor's counters, registered once.
pub(crate) struct ProcessorMetrics {
    pub traces_in_flight: Gauge,
    pub spans_in_flight: Gauge,
    completed: [Counter; 4],
    pub late_spans: Counter,
    pub windows_full: Counter,
    pub windows_partial: Counter,
    pub forwarded_spans: Counter,
    pub incidents: Counter,
    registry: Registry,
}

impl ProcessorMetrics {
    pub(crate) fn new(registry: &Registry) -> Self {
        let completed = |reason| registry.counter(&names::PROCESSOR_TRACES_COMPLETED, &[("reason", reason)]);
        let windows = |partial| registry.counter(&names::PROCESSOR_WINDOWS, &[("partial", partial)]);
        Self {
            traces_in_flight: registry.gauge(&names::PROCESSOR_TRACES_IN_FLIGHT, &[]),
            spans_in_flight: registry.gauge(&names::PROCESSOR_SPANS_IN_FLIGHT, &[]),
            completed: [
                completed("trace_wait"),
                completed("max_traces"),
                completed("max_spans"),
                completed("shutdown"),
            ],
            late_spans: registry.counter(&names::PROCESSOR_LATE_SPANS, &[]),
            windows_full: windows("false"),
            windows_partial: windows("true"),
            forwarded_spans: registry.counter(&names::PROCESSOR_FORWARDED_SPANS, &[]),
            incidents: registry.counter(&names::PROCESSOR_INCIDENTS, &[]),
            registry: registry.clone(),
        }
    }

    pub(crate) fn completed(&self, why: Completion) -> &Counter {
        &self.completed[match why {
            Completion::TraceWait => 0,
            Completion::MaxTraces => 1,
            Completion::MaxSpans => 2,
            Completion::Shutdown => 3,
        }]
    }

    pub(crate) fn anomalies(&self, detector: &'static str) -> Counter {
        self.registry
            .counter(&names::PROCESSOR_ANOMALIES, &[("detector", detector)])
    }
}
