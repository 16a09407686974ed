//! One window against the baseline: the code path shared by training (validation windows), the live detector
//! and the offline commands, so that a threshold is always compared with distances computed the same way.

use super::baseline::{count_sequences, Baseline, SequenceShare};
use super::sequence::{SeqId, SequenceExtractor};
use crate::Trace;

/// Scores windows against a baseline, reusing its buffers.
#[derive(Clone)]
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

    /// The last window as sorted `(sequence, count)` pairs, and its size.
    pub fn counts(&self) -> (&[(SeqId, u32)], usize) {
        (&self.counts, self.n)
    }

    /// Keeps the last window's new sequences past [`Scorer::finish`] (it is remembered as a drift candidate).
    pub fn keep_window_sequences(&mut self) {
        self.baseline.vocab.freeze();
    }

    /// Moves the baseline a step `beta` towards the last window pooled with `other` (a confirmed new regime).
    pub fn rebaseline(&mut self, other: &[(SeqId, u32)], n_other: usize, beta: f64, max_sequences: usize) {
        let mut pooled: Vec<(SeqId, u32)> = Vec::with_capacity(self.counts.len() + other.len());
        pooled.extend_from_slice(&self.counts);
        pooled.extend_from_slice(other);
        pooled.sort_unstable_by_key(|(s, _)| *s);
        let mut merged: Vec<(SeqId, u32)> = Vec::with_capacity(pooled.len());
        for (s, c) in pooled {
            match merged.last_mut() {
                Some((ls, lc)) if *ls == s => *lc += c,
                _ => merged.push((s, c)),
            }
        }
        self.baseline.adapt(&merged, self.n + n_other, beta, max_sequences);
    }

    /// Ends the window: forgets sequences seen only in it.
    pub fn finish(&mut self) {
        self.baseline.vocab.clear_transient();
    }
}
