//! The normal baseline: each known sequence's relative frequency, and the distance of a window from it.
//!
//! Paper eq. 3: `d(T1, T2) = sqrt(Σ_i (f_i^1 − f_i^2)²)` over the union of the sequences of both sets. Written as
//! `Σ_baseline f_b² + Σ_window [(f_w − f_b)² − f_b²]` it costs O(distinct sequences in the window), not
//! O(vocabulary), per window.
//!
//! The baseline can adapt (see [`Baseline::adapt`]): frequencies are kept as `raw × scale`, so decaying every
//! entry is one multiplication of `scale`, and the sum of squares is maintained incrementally.

use serde::{Deserialize, Serialize};

use super::evidence::{Mix, Reference};
use super::sequence::{SeqId, Vocabulary};

/// One sequence's share of the window and of the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequenceShare {
    /// The sequence.
    pub seq: SeqId,
    /// Its relative frequency in the baseline (0 if never seen).
    pub baseline: f64,
    /// Its relative frequency in the window.
    pub observed: f64,
}

/// How a window's distribution is compared with the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Statistic {
    /// The paper's eq. 3: `sqrt(Σ (f_w − f_b)²)`.
    #[default]
    Euclidean,
    /// Beyond the paper: `sqrt(Σ (f_w − f_b)² / f_b)`, each sequence's deviation standardized by its
    /// multinomial variability (Pearson's χ² divided by the window size). Sequences rarer than `min_frequency`
    /// in the baseline — and sequences it never saw — are pooled into one bucket, whose share is at least
    /// `min_frequency`. A surge of a rare sequence (failed logins, checkouts) then weighs far more than the
    /// sampling noise of the common ones, which dominates the Euclidean distance.
    Chi {
        /// Pooling threshold (half a trace per window by default: `1 / (2·window)`).
        min_frequency: f64,
    },
}

/// Sequence frequencies of normal traffic.
#[derive(Clone)]
pub struct Baseline {
    /// Calls and sequences; permanent entries are the baseline's.
    pub vocab: Vocabulary,
    statistic: Statistic,
    raw: Vec<f64>,
    scale: f64,
    sum_sq_raw: f64,
    sum_raw: f64,
    /// Σ raw over sequences at or above the chi pooling threshold (recomputed by `refresh`).
    frequent_raw: f64,
    /// The most frequent sequences, so that a normally common sequence that vanishes from a window is reported.
    common: Vec<SeqId>,
    /// Every sequence with a share of at least `frequent_floor`, most frequent first (the cells the evidence
    /// tests iterate: O(1/floor), not O(vocabulary)).
    frequent: Vec<SeqId>,
    frequent_floor: f64,
    /// Traces the frequencies are estimated from (the reference's own sampling noise), when known.
    size: f64,
    /// Bumped whenever sequence ids are renumbered ([`Baseline::adapt`] forgetting rare sequences).
    generation: u64,
}

/// Share below which sequences are not listed as frequent, unless set.
const FREQUENT_FLOOR: f64 = 0.005;

const COMMON: usize = 16;

impl Baseline {
    /// A baseline from `counts[seq]` over the permanent sequences of `vocab`.
    pub fn from_counts(vocab: Vocabulary, counts: &[u64]) -> Self {
        let total: u64 = counts.iter().sum();
        let freqs = counts
            .iter()
            .map(|c| if total == 0 { 0.0 } else { *c as f64 / total as f64 })
            .collect();
        let mut b = Self::from_frequencies(vocab, freqs);
        b.size = total as f64;
        b
    }

    /// Lists sequences down to share `floor` as frequent (see [`Baseline::frequent_ids`]).
    pub fn with_frequent_floor(mut self, floor: f64) -> Self {
        self.frequent_floor = floor;
        self.refresh();
        self
    }

    /// Traces the frequencies are estimated from.
    pub fn size(&self) -> f64 {
        self.size
    }

    /// Sets the number of traces the frequencies are estimated from.
    pub fn set_size(&mut self, size: f64) {
        self.size = size;
    }

    /// Changes whenever sequence ids are renumbered.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Sequences with a share of at least the frequent floor, most frequent first.
    pub fn frequent_ids(&self) -> &[SeqId] {
        &self.frequent
    }

    /// The baseline as sparse `(sequence, share)` pairs of size [`Baseline::size`].
    pub fn snapshot(&self) -> Mix {
        let shares = self
            .raw
            .iter()
            .enumerate()
            .filter(|(_, r)| **r > 0.0)
            .map(|(i, r)| (i as SeqId, r * self.scale))
            .collect();
        Mix::of_shares(shares, self.size)
    }

    /// Replaces every frequency with `mix`'s (whose sequences must be permanent in the vocabulary).
    pub fn set_mix(&mut self, mix: &Mix) {
        self.vocab.freeze();
        self.raw.clear();
        self.raw.resize(self.vocab.len(), 0.0);
        for (s, r) in mix.shares() {
            if let Some(slot) = self.raw.get_mut(*s as usize) {
                *slot = *r;
            }
        }
        self.scale = 1.0;
        self.size = mix.size();
        self.renormalize();
        self.refresh();
    }

    /// Sequences the baseline holds, most frequent first (candidates for the nearest known path).
    pub fn known_by_frequency(&self) -> Vec<SeqId> {
        let mut ids: Vec<SeqId> = (0..self.raw.len() as SeqId)
            .filter(|s| self.raw[*s as usize] > 0.0)
            .collect();
        ids.sort_by(|a, b| self.raw[*b as usize].total_cmp(&self.raw[*a as usize]));
        ids
    }

    /// A baseline from relative frequencies indexed by sequence id.
    pub fn from_frequencies(mut vocab: Vocabulary, mut raw: Vec<f64>) -> Self {
        vocab.freeze();
        raw.resize(vocab.len(), 0.0);
        let mut b = Self {
            vocab,
            statistic: Statistic::Euclidean,
            sum_sq_raw: 0.0,
            sum_raw: 0.0,
            frequent_raw: 0.0,
            raw,
            scale: 1.0,
            common: Vec::new(),
            frequent: Vec::new(),
            frequent_floor: FREQUENT_FLOOR,
            size: 0.0,
            generation: 0,
        };
        b.renormalize();
        b.refresh();
        b
    }

    /// Compares windows with `statistic` from now on.
    pub fn with_statistic(mut self, statistic: Statistic) -> Self {
        self.statistic = statistic;
        self.refresh();
        self
    }

    /// O(vocabulary) bookkeeping after the frequencies changed: the most common sequences, the chi pool.
    fn refresh(&mut self) {
        let mut ids: Vec<SeqId> = (0..self.raw.len() as SeqId).collect();
        let by_freq = |a: &SeqId, b: &SeqId| self.raw[*b as usize].total_cmp(&self.raw[*a as usize]);
        if ids.len() > COMMON {
            ids.select_nth_unstable_by(COMMON, by_freq);
            ids.truncate(COMMON);
        }
        ids.sort_by(by_freq);
        self.common = ids;
        let floor = self.frequent_floor / self.scale;
        let mut frequent: Vec<SeqId> = (0..self.raw.len() as SeqId)
            .filter(|s| self.raw[*s as usize] >= floor)
            .collect();
        frequent.sort_by(by_freq);
        self.frequent = frequent;
        if let Statistic::Chi { min_frequency } = self.statistic {
            let min_raw = min_frequency / self.scale;
            self.frequent_raw = self.raw.iter().filter(|r| **r >= min_raw).sum();
        }
    }

    /// The weight `1 / f_b` of a sequence under the chi statistic, `None` when it is pooled.
    #[inline]
    fn chi_weight(&self, baseline: f64, min_frequency: f64) -> Option<f64> {
        (baseline >= min_frequency).then(|| 1.0 / baseline)
    }

    /// The pooled bucket's baseline share under the chi statistic.
    fn pool_share(&self, min_frequency: f64) -> f64 {
        ((self.sum_raw - self.frequent_raw) * self.scale).max(min_frequency)
    }

    /// Relative frequency of `seq` (0 for sequences the baseline has never seen).
    #[inline]
    pub fn frequency(&self, seq: SeqId) -> f64 {
        self.raw.get(seq as usize).map_or(0.0, |r| r * self.scale)
    }

    /// Every baseline frequency, by sequence id (for saving the model).
    pub fn frequencies(&self) -> Vec<f64> {
        self.raw.iter().map(|r| r * self.scale).collect()
    }

    /// Distance of a window, given as sorted `(seq, count)` pairs over `n` traces, from the baseline.
    pub fn distance(&self, counts: &[(SeqId, u32)], n: usize) -> f64 {
        if n == 0 {
            return 0.0;
        }
        let inv = 1.0 / n as f64;
        let d2 = match self.statistic {
            Statistic::Euclidean => {
                let mut d2 = self.sum_sq_raw * self.scale * self.scale;
                for (seq, c) in counts {
                    let b = self.frequency(*seq);
                    let o = f64::from(*c) * inv;
                    d2 += (o - b) * (o - b) - b * b;
                }
                d2
            }
            Statistic::Chi { min_frequency } => {
                // Σ_F (o − b)²/b = Σ_F b + Σ_{F∩W} (o²/b − 2o): O(window), not O(vocabulary).
                let mut d2 = self.frequent_raw * self.scale;
                let mut pooled = 0.0;
                for (seq, c) in counts {
                    let b = self.frequency(*seq);
                    let o = f64::from(*c) * inv;
                    match self.chi_weight(b, min_frequency) {
                        Some(w) => d2 += o * o * w - 2.0 * o,
                        None => pooled += o,
                    }
                }
                let p = self.pool_share(min_frequency);
                d2 + (pooled - p) * (pooled - p) / p
            }
        };
        d2.max(0.0).sqrt()
    }

    /// Distance between two windows (sorted `(seq, count)` pairs over `na` and `nb` traces) in this baseline's
    /// statistic: how differently they deviate from it. Chi weighs each sequence by its baseline frequency and
    /// pools the rare ones, as [`Baseline::distance`] does.
    pub fn window_distance(&self, a: &[(SeqId, u32)], na: usize, b: &[(SeqId, u32)], nb: usize) -> f64 {
        let (fa, fb) = (1.0 / na.max(1) as f64, 1.0 / nb.max(1) as f64);
        let min = match self.statistic {
            Statistic::Euclidean => None,
            Statistic::Chi { min_frequency } => Some(min_frequency),
        };
        let (mut i, mut j, mut d2) = (0, 0, 0.0);
        let (mut pool_a, mut pool_b) = (0.0, 0.0);
        loop {
            let (seq, x, y) = match (a.get(i), b.get(j)) {
                (Some(p), Some(q)) if p.0 == q.0 => {
                    i += 1;
                    j += 1;
                    (p.0, f64::from(p.1) * fa, f64::from(q.1) * fb)
                }
                (Some(p), Some(q)) if p.0 < q.0 => {
                    i += 1;
                    (p.0, f64::from(p.1) * fa, 0.0)
                }
                (Some(p), None) => {
                    i += 1;
                    (p.0, f64::from(p.1) * fa, 0.0)
                }
                (_, Some(q)) => {
                    j += 1;
                    (q.0, 0.0, f64::from(q.1) * fb)
                }
                (None, None) => break,
            };
            match min {
                None => d2 += (x - y) * (x - y),
                Some(m) => match self.chi_weight(self.frequency(seq), m) {
                    Some(w) => d2 += (x - y) * (x - y) * w,
                    None => {
                        pool_a += x;
                        pool_b += y;
                    }
                },
            }
        }
        if let Some(m) = min {
            d2 += (pool_a - pool_b).powi(2) / self.pool_share(m);
        }
        d2.sqrt()
    }

    /// The `top` largest terms of the distance, largest first.
    pub fn contributions(&self, counts: &[(SeqId, u32)], n: usize, top: usize) -> Vec<SequenceShare> {
        let inv = if n == 0 { 0.0 } else { 1.0 / n as f64 };
        let mut shares: Vec<SequenceShare> = counts
            .iter()
            .map(|(seq, c)| SequenceShare {
                seq: *seq,
                baseline: self.frequency(*seq),
                observed: f64::from(*c) * inv,
            })
            .collect();
        for seq in &self.common {
            if counts.binary_search_by_key(seq, |(s, _)| *s).is_err() {
                shares.push(SequenceShare {
                    seq: *seq,
                    baseline: self.frequency(*seq),
                    observed: 0.0,
                });
            }
        }
        let weight = match self.statistic {
            Statistic::Euclidean => None,
            Statistic::Chi { min_frequency } => Some(min_frequency),
        };
        let term = |s: &SequenceShare| {
            let d2 = (s.observed - s.baseline).powi(2);
            weight.map_or(d2, |m| d2 / s.baseline.max(m))
        };
        shares.sort_by(|a, b| term(b).total_cmp(&term(a)));
        shares.truncate(top);
        shares
    }

    /// Moves the baseline a step `alpha` towards a window judged normal: `f ← (1 − α)·f + α·observed`. Sequences
    /// new to the baseline become permanent, up to `max_sequences`; beyond it, rare ones are forgotten first.
    pub fn adapt(&mut self, counts: &[(SeqId, u32)], n: usize, alpha: f64, max_sequences: usize) {
        if n == 0 || alpha <= 0.0 {
            return;
        }
        self.scale *= 1.0 - alpha;
        if self.scale < 1e-150 {
            self.renormalize();
        }
        self.vocab.freeze();
        if self.raw.len() < self.vocab.len() {
            self.raw.resize(self.vocab.len(), 0.0);
        }
        let add = alpha / (n as f64 * self.scale);
        for (seq, c) in counts {
            let r = &mut self.raw[*seq as usize];
            let old = *r;
            *r += add * f64::from(*c);
            self.sum_sq_raw += *r * *r - old * old;
            self.sum_raw += *r - old;
        }
        if self.raw.len() > max_sequences {
            self.forget_rare(max_sequences / 2);
        }
        self.refresh();
    }

    fn renormalize(&mut self) {
        for r in &mut self.raw {
            *r *= self.scale;
        }
        self.scale = 1.0;
        self.sum_sq_raw = self.raw.iter().map(|f| f * f).sum();
        self.sum_raw = self.raw.iter().sum();
    }

    /// Keeps the `keep` most frequent sequences, rebuilding the vocabulary.
    fn forget_rare(&mut self, keep: usize) {
        self.renormalize();
        let mut ids: Vec<SeqId> = (0..self.raw.len() as SeqId).collect();
        ids.sort_by(|a, b| self.raw[*b as usize].total_cmp(&self.raw[*a as usize]));
        ids.truncate(keep);
        let mut vocab = Vocabulary::with_siblings(self.vocab.siblings());
        let mut raw = Vec::with_capacity(keep);
        for id in ids {
            let calls: Vec<_> = self
                .vocab
                .calls_of(id)
                .iter()
                .map(|c| {
                    let (s, o) = self.vocab.call_name(*c);
                    (s.to_owned(), o.to_owned())
                })
                .collect();
            let ids: Vec<_> = calls.iter().map(|(s, o)| vocab.call(s, o)).collect();
            vocab.sequence(&ids);
            raw.push(self.raw[id as usize]);
        }
        vocab.freeze();
        self.vocab = vocab;
        self.raw = raw;
        self.generation += 1;
        self.renormalize();
        tracing::info!(
            kept = keep,
            "frequency baseline: forgot its rarest sequences (max_sequences reached)"
        );
    }
}

impl Reference for Baseline {
    fn share(&self, seq: SeqId) -> f64 {
        self.frequency(seq)
    }
    fn size(&self) -> f64 {
        self.size
    }
    fn frequent(&self, min_share: f64, f: &mut dyn FnMut(SeqId, f64)) {
        for s in &self.frequent {
            let r = self.frequency(*s);
            if r < min_share {
                break;
            }
            f(*s, r);
        }
    }
    fn mass_below(&self, below: f64) -> f64 {
        let raw_below = below / self.scale;
        self.raw.iter().filter(|r| **r < raw_below).sum::<f64>() * self.scale
    }
    fn count_at_least(&self, share: f64) -> usize {
        if share >= self.frequent_floor {
            return self.frequent.partition_point(|s| self.frequency(*s) >= share);
        }
        let raw = share / self.scale;
        self.raw.iter().filter(|r| **r >= raw).count()
    }
}

/// Counts of each sequence in `ids`, sorted by sequence (sorts `ids` in place; no allocation beyond `out`).
pub fn count_sequences(ids: &mut [SeqId], out: &mut Vec<(SeqId, u32)>) {
    ids.sort_unstable();
    out.clear();
    for id in ids.iter() {
        match out.last_mut() {
            Some((s, c)) if s == id => *c += 1,
            _ => out.push((*id, 1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(freqs: &[u64]) -> Baseline {
        let mut v = Vocabulary::new();
        for i in 0..freqs.len() {
            let c = v.call("s", &format!("op{i}"));
            v.sequence(&[c]);
        }
        Baseline::from_counts(v, freqs)
    }

    #[test]
    fn distance_is_paper_eq3_over_the_union() {
        // Baseline 50/30/20 %; window 40 % seq0, 60 % a sequence the baseline never saw (id 3).
        let b = baseline(&[50, 30, 20]);
        let d = b.distance(&[(0, 2), (3, 3)], 5);
        let expect = ((0.4f64 - 0.5).powi(2) + 0.3f64.powi(2) + 0.2f64.powi(2) + 0.6f64.powi(2)).sqrt();
        assert!((d - expect).abs() < 1e-12, "{d} vs {expect}");
        assert!(b.distance(&[(0, 5), (1, 3), (2, 2)], 10).abs() < 1e-7);
    }

    #[test]
    fn contributions_include_vanished_common_sequences() {
        // Baseline 90 % seq0, 10 % seq1; the window: 40 % seq1, 60 % an unseen sequence (id 2), no seq0.
        let b = baseline(&[90, 10]);
        let top = b.contributions(&[(1, 4), (2, 6)], 10, 2);
        assert_eq!(top[0].seq, 0, "seq 0 vanished: (0 - 0.9)² = 0.81 is the largest term");
        assert_eq!(top[0].observed, 0.0);
        assert_eq!(
            (top[1].seq, top[1].baseline),
            (2, 0.0),
            "then the unseen one: 0.6² = 0.36"
        );
    }

    #[test]
    fn adapt_moves_towards_the_window_and_keeps_sums_consistent() {
        let mut b = baseline(&[100, 0]);
        for _ in 0..200 {
            b.adapt(&[(1, 10)], 10, 0.1, 1000);
        }
        assert!(b.frequency(1) > 0.99 && b.frequency(0) < 0.01);
        let direct: f64 = b.frequencies().iter().map(|f| f * f).sum::<f64>().sqrt();
        assert!((b.distance(&[], 1) - direct).abs() < 1e-9);
    }

    #[test]
    fn chi_standardizes_and_pools() {
        // Baseline 50/30/20 %; pool threshold 25 % pools seq2 (20 %) with never-seen sequences.
        let b = baseline(&[50, 30, 20]).with_statistic(Statistic::Chi { min_frequency: 0.25 });
        // Window: 40 % seq0, 30 % seq1, 30 % unseen (id 3): pooled 30 % against the pool's share, 20 % floored to
        // min_frequency = 25 %.
        let d = b.distance(&[(0, 4), (1, 3), (3, 3)], 10);
        let expect = ((0.4f64 - 0.5).powi(2) / 0.5 + 0.0 + (0.3f64 - 0.25).powi(2) / 0.25).sqrt();
        assert!((d - expect).abs() < 1e-12, "{d} vs {expect}");
        // Baseline 70/10/20 %. Both windows move two sequences by 20 points: Euclidean cannot tell them apart,
        // chi weighs the rare sequence tripling (10 % → 30 %) above the common ones shifting.
        let counts = [70, 10, 20];
        let rare_surge = [(0, 50), (1, 30), (2, 20)];
        let common_shift = [(0, 90), (1, 10)];
        let e = baseline(&counts);
        assert!((e.distance(&rare_surge, 100) - e.distance(&common_shift, 100)).abs() < 1e-12);
        let c = baseline(&counts).with_statistic(Statistic::Chi { min_frequency: 0.01 });
        assert!(c.distance(&rare_surge, 100) > 1.2 * c.distance(&common_shift, 100));
    }

    #[test]
    fn counting() {
        let mut ids = vec![3, 1, 3, 2, 3];
        let mut out = Vec::new();
        count_sequences(&mut ids, &mut out);
        assert_eq!(out, vec![(1, 1), (2, 1), (3, 3)]);
    }
}
