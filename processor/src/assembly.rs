//! Trace assembly: spans are grouped by trace id, and a trace is complete `trace_wait` after its last span
//! arrived.
//!
//! The map is owned by the processor task alone, so it needs no locks at all (a sharded concurrent map such as
//! `dashmap` would pay for synchronisation that a single owner never needs). Because `trace_wait` is one constant,
//! deadlines are pushed in non-decreasing order and a plain FIFO is a complete timer queue: O(1) per span, no heap,
//! no scan of the map. A trace that receives more spans simply gets a newer entry; the stale one is skipped when
//! it reaches the front.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use hashbrown::HashMap;

use crate::{SpanRecord, Trace, TraceId};

/// Why a trace was completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// `trace_wait` passed since its last span: the normal case.
    TraceWait,
    /// Completed early because `max_traces` traces were in flight.
    MaxTraces,
    /// Completed early because `max_spans` spans were in flight.
    MaxSpans,
    /// Completed because spanguard is shutting down.
    Shutdown,
}

struct Entry {
    spans: Vec<SpanRecord>,
    deadline: Instant,
}

/// Assembles spans into traces.
pub struct Assembler {
    traces: HashMap<TraceId, Entry>,
    timers: VecDeque<(Instant, TraceId)>,
    spans_in_flight: usize,
    trace_wait: Duration,
    max_traces: usize,
    max_spans: usize,
}

impl Assembler {
    /// An assembler with the given completion wait and bounds.
    pub fn new(trace_wait: Duration, max_traces: usize, max_spans: usize) -> Self {
        Self {
            traces: HashMap::new(),
            timers: VecDeque::new(),
            spans_in_flight: 0,
            trace_wait,
            max_traces: max_traces.max(1),
            max_spans: max_spans.max(1),
        }
    }

    /// Traces being assembled.
    pub fn traces_in_flight(&self) -> usize {
        self.traces.len()
    }

    /// Spans being assembled.
    pub fn spans_in_flight(&self) -> usize {
        self.spans_in_flight
    }

    /// Adds a span that arrived at `now`; traces pushed out by the bounds go to `done`.
    pub fn add(&mut self, id: TraceId, record: SpanRecord, now: Instant, done: &mut impl FnMut(Trace, Completion)) {
        let deadline = now + self.trace_wait;
        match self.traces.entry(id) {
            hashbrown::hash_map::Entry::Occupied(mut o) => {
                let e = o.get_mut();
                e.spans.push(record);
                if e.deadline != deadline {
                    e.deadline = deadline;
                    self.timers.push_back((deadline, id));
                }
            }
            hashbrown::hash_map::Entry::Vacant(v) => {
                v.insert(Entry {
                    spans: vec![record],
                    deadline,
                });
                self.timers.push_back((deadline, id));
            }
        }
        self.spans_in_flight += 1;
        while self.traces.len() > self.max_traces {
            if !self.complete_oldest(Completion::MaxTraces, done) {
                break;
            }
        }
        while self.spans_in_flight > self.max_spans {
            if !self.complete_oldest(Completion::MaxSpans, done) {
                break;
            }
        }
    }

    /// Completes every trace whose deadline is at or before `now`, oldest first.
    pub fn expire(&mut self, now: Instant, done: &mut impl FnMut(Trace, Completion)) {
        while let Some(&(deadline, id)) = self.timers.front() {
            if deadline > now {
                break;
            }
            self.timers.pop_front();
            if self.traces.get(&id).is_some_and(|e| e.deadline == deadline) {
                self.finish(id, Completion::TraceWait, done);
            }
        }
    }

    /// Completes every trace, oldest first (shutdown).
    pub fn drain(&mut self, done: &mut impl FnMut(Trace, Completion)) {
        while self.complete_oldest(Completion::Shutdown, done) {}
        self.timers.clear();
    }

    /// When the next trace is due, if any.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.front().map(|(d, _)| *d)
    }

    fn complete_oldest(&mut self, why: Completion, done: &mut impl FnMut(Trace, Completion)) -> bool {
        while let Some((deadline, id)) = self.timers.pop_front() {
            if self.traces.get(&id).is_some_and(|e| e.deadline == deadline) {
                self.finish(id, why, done);
                return true;
            }
        }
        false
    }

    fn finish(&mut self, id: TraceId, why: Completion, done: &mut impl FnMut(Trace, Completion)) {
        if let Some(entry) = self.traces.remove(&id) {
            self.spans_in_flight -= entry.spans.len();
            done(Trace { id, spans: entry.spans }, why);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ResourceCtx, ScopeCtx};
    use opentelemetry_proto::tonic::trace::v1::Span;
    use std::sync::Arc;

    fn rec(trace: u8, span: u8) -> (TraceId, SpanRecord) {
        (
            [trace; 16],
            SpanRecord::from_span(
                Arc::new(ResourceCtx::default()),
                Arc::new(ScopeCtx::default()),
                &Span {
                    trace_id: vec![trace; 16],
                    span_id: vec![span; 8],
                    ..Default::default()
                },
            )
            .unwrap(),
        )
    }

    fn collect(out: &mut Vec<(TraceId, usize, Completion)>) -> impl FnMut(Trace, Completion) + '_ {
        |t, c| out.push((t.id, t.spans.len(), c))
    }

    #[test]
    fn trace_completes_trace_wait_after_its_last_span() {
        let t0 = Instant::now();
        let wait = Duration::from_secs(2);
        let mut a = Assembler::new(wait, 100, 1000);
        let mut out = Vec::new();
        let (id, r) = rec(1, 1);
        a.add(id, r, t0, &mut collect(&mut out));
        let (id, r) = rec(1, 2);
        a.add(id, r, t0 + Duration::from_secs(1), &mut collect(&mut out));
        a.expire(t0 + Duration::from_millis(2500), &mut collect(&mut out));
        assert!(out.is_empty(), "a span 1s later must extend the wait");
        a.expire(t0 + Duration::from_secs(3), &mut collect(&mut out));
        assert_eq!(out, vec![([1; 16], 2, Completion::TraceWait)]);
        assert_eq!(a.traces_in_flight(), 0);
        assert_eq!(a.spans_in_flight(), 0);
    }

    #[test]
    fn over_max_traces_the_oldest_completes_early() {
        let t0 = Instant::now();
        let mut a = Assembler::new(Duration::from_secs(2), 2, 1000);
        let mut out = Vec::new();
        for (i, t) in [1u8, 2, 3].iter().enumerate() {
            let (id, r) = rec(*t, 1);
            a.add(id, r, t0 + Duration::from_millis(i as u64), &mut collect(&mut out));
        }
        assert_eq!(out, vec![([1; 16], 1, Completion::MaxTraces)]);
        assert_eq!(a.traces_in_flight(), 2);
    }

    #[test]
    fn over_max_spans_and_drain() {
        let t0 = Instant::now();
        let mut a = Assembler::new(Duration::from_secs(2), 100, 3);
        let mut out = Vec::new();
        for s in 0..2 {
            let (id, r) = rec(1, s + 1);
            a.add(id, r, t0, &mut collect(&mut out));
        }
        for s in 0..2 {
            let (id, r) = rec(2, s + 1);
            a.add(id, r, t0 + Duration::from_millis(1), &mut collect(&mut out));
        }
        assert_eq!(out, vec![([1; 16], 2, Completion::MaxSpans)]);
        a.drain(&mut collect(&mut out));
        assert_eq!(out[1], ([2; 16], 2, Completion::Shutdown));
        assert_eq!(a.spans_in_flight(), 0);
    }
}
