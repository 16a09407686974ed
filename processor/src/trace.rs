//! A trace: every span that shares a trace id, as assembled.

use crate::SpanRecord;

/// A 16-byte W3C trace id.
pub type TraceId = [u8; 16];

/// The spans of one trace.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Its id.
    pub id: TraceId,
    /// Its spans, in arrival order.
    pub spans: Vec<SpanRecord>,
}

impl Trace {
    /// Index of the root span: the earliest-starting span without a parent, else (a fragment) the earliest span.
    pub fn root_index(&self) -> Option<usize> {
        let by_start = |i: &usize| self.spans[*i].start_time_unix_nano();
        let parentless = (0..self.spans.len())
            .filter(|i| self.spans[*i].parent_span_id().is_empty())
            .min_by_key(by_start);
        parentless.or_else(|| (0..self.spans.len()).min_by_key(by_start))
    }

    /// Earliest span start, ns since the epoch.
    pub fn start_ns(&self) -> u64 {
        self.spans.iter().map(|s| s.start_time_unix_nano()).min().unwrap_or(0)
    }

    /// Latest span end, ns since the epoch.
    pub fn end_ns(&self) -> u64 {
        self.spans.iter().map(|s| s.end_time_unix_nano()).max().unwrap_or(0)
    }
}
