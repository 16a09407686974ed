//! Scoring a recording's traces in consecutive windows of n, as `score frequency` prints them and the hold-out
//! evaluation ([`super::holdout`]) counts them: the state carries from window to window as in the pipeline.

use serde::Serialize;

use super::detector::{FrequencyDetector, FrequencyVerdict};
use crate::Trace;

/// One scored window: its place, then the detector's verdict (every key of [`FrequencyVerdict`]).
#[derive(Debug, Clone, Serialize)]
pub struct WindowLine {
    /// Window index from 0.
    pub window: usize,
    /// Traces in it.
    pub traces: usize,
    /// Earliest span start, ns since the epoch.
    pub start_ns: u64,
    /// Latest span end, ns since the epoch.
    pub end_ns: u64,
    /// Fewer traces than the window size (the file's last window).
    pub partial: bool,
    /// The verdict; absent for a partial window too small to judge (under [`MIN_JUDGED`] of the window).
    #[serde(flatten)]
    pub verdict: Option<FrequencyVerdict>,
}

/// A partial window with fewer traces than this share of the window is not judged: its counts say too little.
pub const MIN_JUDGED: f64 = 0.2;

/// Scores every window of `traces` with `detector`, in order.
pub fn score_windows(detector: &mut FrequencyDetector, traces: &[Trace], window: usize) -> Vec<WindowLine> {
    traces
        .chunks(window.max(1))
        .enumerate()
        .map(|(i, w)| {
            let partial = w.len() < window;
            let judged = !partial || w.len() as f64 >= MIN_JUDGED * window as f64;
            WindowLine {
                window: i,
                traces: w.len(),
                start_ns: w.iter().map(Trace::start_ns).min().unwrap_or(0),
                end_ns: w.iter().map(Trace::end_ns).max().unwrap_or(0),
                partial,
                verdict: judged.then(|| detector.evaluate(w)),
            }
        })
        .collect()
}
