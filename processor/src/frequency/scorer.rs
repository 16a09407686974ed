//! One window against the baseline: the code path shared by training (validation windows), the live detector
//! and the offline commands, so that a threshold is always compared with distances computed the same way.

use super::baseline::{count_sequences, Baseline, SequenceShare};
use super::sequence::{SeqId, SequenceExtractor};
use crate::Trace;

/// Scores windows against a baseline, reusing its buffers.
pub struct Scorer {
    /// The baseline (adapts when asked).
    pub baseline: Baseline,
    extractor: SequenceExtractor,
    ids: Vec<SeqId>,
    sorted: Vec<SeqId>,
    counts: Vec<(SeqId, u32)>,
    n: usize,
}

impl Scorer {
    /// A scorer over `baseline`.
    pub fn new(baseline: Baseline) -> Self {
        Self {
            baseline,
            extractor: SequenceExtractor::new(),
            ids: Vec::new(),
            sorted: Vec::new(),
            counts: Vec::new(),
            n: 0,
        }
    }

    /// Extracts the traces' sequences and returns the window's distance from the baseline. Sequences the
    /// baseline has never seen are interned only until [`Scorer::finish`].
    pub fn measure<'a>(&mut self, traces: impl IntoIterator<Item = &'a Trace>) -> f64 {
        self.ids.clear();
        for t in traces {
            let id = self.extractor.sequence(t, &mut self.baseline.vocab);
            self.ids.push(id);
        }
        self.sorted.clear();
        self.sorted.extend_from_slice(&self.ids);
        count_sequences(&mut self.sorted, &mut self.counts);
        self.n = self.ids.len();
        self.baseline.distance(&self.counts, self.n)
    }

    /// The sequence of each trace of the last measured window, in window order.
    pub fn sequence_ids(&self) -> &[SeqId] {
        &self.ids
    }

    /// The largest terms of the last distance.
    pub fn contributions(&self, top: usize) -> Vec<SequenceShare> {
        self.baseline.contributions(&self.counts, self.n, top)
    }

    /// Moves the baseline towards the last window (see [`Baseline::adapt`]).
    pub fn adapt(&mut self, alpha: f64, max_sequences: usize) {
        self.baseline.adapt(&self.counts, self.n, alpha, max_sequences);
    }

    /// Ends the window: forgets sequences seen only in it.
    pub fn finish(&mut self) {
        self.baseline.vocab.clear_transient();
    }
}
