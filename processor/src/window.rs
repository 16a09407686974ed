//! Windows: completed traces grouped for scoring. A window closes when it holds `traces` traces (the paper's
//! group of 50) or `timeout` after it opened, so that a quiet service still gets its spans forwarded promptly.

use std::time::{Duration, Instant};

use crate::Trace;

/// A group of completed traces scored together.
#[derive(Debug)]
pub struct Window {
    /// Unique id, `<run>-<seq>`: the run part keeps ids unique across restarts and replicas.
    pub id: String,
    /// Sequence number within this run, from 0.
    pub seq: u64,
    /// The traces, in completion order.
    pub traces: Vec<Trace>,
    /// Closed before it filled (timeout or shutdown).
    pub partial: bool,
}

impl Window {
    /// A window built from already-grouped traces (offline scoring).
    pub fn new(id: impl Into<String>, seq: u64, traces: Vec<Trace>, partial: bool) -> Self {
        Self {
            id: id.into(),
            seq,
            traces,
            partial,
        }
    }

    /// Earliest span start in the window, ns since the epoch.
    pub fn start_ns(&self) -> u64 {
        self.traces.iter().map(Trace::start_ns).min().unwrap_or(0)
    }

    /// Latest span end in the window, ns since the epoch.
    pub fn end_ns(&self) -> u64 {
        self.traces.iter().map(Trace::end_ns).max().unwrap_or(0)
    }

    /// Spans in the window.
    pub fn span_count(&self) -> usize {
        self.traces.iter().map(|t| t.spans.len()).sum()
    }
}

/// Groups completed traces into windows.
pub struct Windower {
    size: usize,
    timeout: Duration,
    run: String,
    next_seq: u64,
    current: Vec<Trace>,
    opened_at: Option<Instant>,
}

impl Windower {
    /// Windows of `size` traces or `timeout`, ids prefixed with `run`.
    pub fn new(size: usize, timeout: Duration, run: impl Into<String>) -> Self {
        Self {
            size: size.max(1),
            timeout,
            run: run.into(),
            next_seq: 0,
            current: Vec::with_capacity(size.max(1)),
            opened_at: None,
        }
    }

    /// Adds a completed trace; returns the window it filled, if any.
    pub fn push(&mut self, trace: Trace, now: Instant) -> Option<Window> {
        if self.current.is_empty() {
            self.opened_at = Some(now);
        }
        self.current.push(trace);
        (self.current.len() >= self.size).then(|| self.close(false))
    }

    /// Closes the open window if it has been open for `timeout`.
    pub fn tick(&mut self, now: Instant) -> Option<Window> {
        let due = self.opened_at.is_some_and(|t| now.duration_since(t) >= self.timeout);
        (due && !self.current.is_empty()).then(|| self.close(true))
    }

    /// Closes the open window, if it holds anything (shutdown).
    pub fn flush(&mut self) -> Option<Window> {
        (!self.current.is_empty()).then(|| self.close(true))
    }

    /// When the open window times out, if one is open.
    pub fn deadline(&self) -> Option<Instant> {
        self.opened_at.map(|t| t + self.timeout)
    }

    fn close(&mut self, partial: bool) -> Window {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.opened_at = None;
        let traces = std::mem::replace(&mut self.current, Vec::with_capacity(self.size));
        Window {
            id: format!("{}-{seq}", self.run),
            seq,
            traces,
            partial,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(n: u8) -> Trace {
        Trace {
            id: [n; 16],
            spans: Vec::new(),
        }
    }

    #[test]
    fn closes_on_count_then_on_timeout() {
        let t0 = Instant::now();
        let mut w = Windower::new(2, Duration::from_secs(10), "r");
        assert!(w.push(trace(1), t0).is_none());
        let full = w.push(trace(2), t0).unwrap();
        assert_eq!((full.id.as_str(), full.traces.len(), full.partial), ("r-0", 2, false));
        assert!(w.push(trace(3), t0 + Duration::from_secs(1)).is_none());
        assert!(
            w.tick(t0 + Duration::from_secs(10)).is_none(),
            "opened at 1s, so not due at 10s"
        );
        let part = w.tick(t0 + Duration::from_secs(11)).unwrap();
        assert_eq!((part.id.as_str(), part.traces.len(), part.partial), ("r-1", 1, true));
        assert!(w.flush().is_none());
    }
}
