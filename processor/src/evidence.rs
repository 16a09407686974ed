//! The processor's second input: what a window is judged by besides its own traces.
//!
//! The graph detector's feed thread scores data-exchange intervals (DistAppGuard §4) and sends each one over a
//! bounded channel; the processor's loop receives them as the second branch of its `select` and keeps the
//! recent ones here, owned by that loop alone. No lock stands between the feed and a verdict, and a window is
//! judged by exactly the intervals that had arrived when it closed: given the same spans and intervals in the
//! same order, the verdicts are the same.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::graph::score::IntervalScore;

/// Scored intervals kept for windows to look up (12 minutes of 1 s intervals), and the channel's capacity.
pub const KEPT: usize = 720;

/// Where the feed sends scored intervals.
pub type IntervalSender = mpsc::Sender<Arc<IntervalScore>>;
/// Where the processor receives them.
pub type IntervalReceiver = mpsc::Receiver<Arc<IntervalScore>>;

/// The bounded channel between the graph feed and the processor.
pub fn interval_channel() -> (IntervalSender, IntervalReceiver) {
    mpsc::channel(KEPT)
}

/// The recent scored intervals, oldest first.
#[derive(Debug, Default)]
pub struct Evidence {
    intervals: VecDeque<Arc<IntervalScore>>,
}

impl Evidence {
    /// Adds a scored interval, forgetting the oldest beyond [`KEPT`].
    pub fn push_interval(&mut self, s: Arc<IntervalScore>) {
        self.intervals.push_back(s);
        while self.intervals.len() > KEPT {
            self.intervals.pop_front();
        }
    }

    /// The intervals that overlap `[start, end]` (ns).
    pub fn intervals_overlapping(&self, start: u64, end: u64) -> Vec<Arc<IntervalScore>> {
        self.intervals
            .iter()
            .filter(|s| s.start <= end && s.end > start)
            .cloned()
            .collect()
    }

    /// The time the kept intervals cover, `(first start, last end)` in ns.
    pub fn intervals_covered(&self) -> Option<(u64, u64)> {
        Some((self.intervals.front()?.start, self.intervals.back()?.end))
    }
}
