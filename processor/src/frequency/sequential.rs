//! Sustained low-rate surges that no single window shows: one CUSUM per sequence (the evidence method).
//!
//! A credential-stuffing run at 10 % of the traffic lifts the failed-login sequence from 1–2 traces per window
//! to 5–6: in one window of 50 that is weak evidence once all sequences are accounted for, but it repeats in
//! every window. Per sequence `s`, the standardized excess of each window,
//! `z = Φ⁻¹(1 − p_mid)` with `p_mid` the mid-p-value of its count under the same two-sample binomial as the
//! single-window test (mean ≈ 0 and variance ≈ 1 under normal traffic even for small counts, Lancaster 1961),
//! accumulates as `S ← max(0, S + z − k)`; `S > h` is an alarm (`sustained`), after which `S` starts again.
//! With `k = 1` and `h = 5` one sequence raises a false alarm about once in 10⁵ windows (Siegmund's
//! approximation), about once in 5 000 over the twenty-odd sequences a window's reference expects; a steady
//! excess of 2σ against a fixed reference alarms within 5–6 windows, 3σ within 3. The allowance of 1σ is what
//! keeps slow legitimate drift (a share creeping up while the reference follows it at its step) from
//! accumulating: a sequence whose excess stays at half a σ raises one alarm in about a thousand windows, not one
//! in ten.
//!
//! The reference keeps learning meanwhile (at its step `α`, [`super::tracking`]), so a steady excess shrinks by
//! about 10 % per window: one of 3σ alarms in its 4th window, 2.5σ in its 6th, and one of 2σ or less is
//! absorbed before it alarms (`Σ (δ·0.9ᵗ − 1)` never exceeds 5). Freezing the reference for a sequence whose
//! statistic builds up was measured to do harm on real traffic: on OnlineBoutique the statistic of a rare
//! sequence whose share was rising passes `h/2` by chance, the frozen reference then never catches up, and a
//! legitimate drift becomes an alarm; on the sustained-attack workloads it caught nothing more.
//!
//! Cost: only sequences whose count exceeds their expectation, or whose statistic is above 0, are computed.

use hashbrown::HashMap;

use super::evidence::Reference;
use super::noise::Dispersion;
use super::sequence::SeqId;
use super::stats::{binomial_upper, z_of};

/// The statistics, by sequence (only those above 0 are kept).
#[derive(Debug, Clone, Default)]
pub struct Sequential {
    s: HashMap<SeqId, f64>,
}

/// One window's outcome.
#[derive(Debug, Clone, Default)]
pub struct SequentialOutcome {
    /// The largest statistic reached in this window, in σ.
    pub max: f64,
    /// The sequences that alarmed (and restarted), with the statistic they reached.
    pub alarms: Vec<(SeqId, f64)>,
}

impl Sequential {
    /// Adds one window (sorted `(sequence, count)` over `n` traces) judged against `reference`: every sequence
    /// the reference expects `min_expected` traces of or more, and every sequence already accumulating.
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        counts: &[(SeqId, u32)],
        n: usize,
        reference: &dyn Reference,
        noise: Dispersion,
        min_share: f64,
        k: f64,
        h: f64,
    ) -> SequentialOutcome {
        let nf = n as f64;
        let size = reference.size().max(1.0);
        let pi = nf / (nf + size);
        let z_for = |seq: SeqId, c: u32| {
            let r = reference.share(seq);
            let d = noise.factor(nf * r);
            let total = (f64::from(c) + size * r) / d;
            let k = f64::from(c) / d;
            // Mid-p: half of P(X = c) counted as evidence.
            let mid = 0.5 * (binomial_upper(k, total, pi) + binomial_upper(k + 1.0, total, pi));
            z_of(mid)
        };
        let mut out = SequentialOutcome::default();
        let count_of = |s: SeqId| counts.binary_search_by_key(&s, |(q, _)| *q).map_or(0, |i| counts[i].1);
        // Accumulating sequences, present in the window or not.
        let tracked: Vec<SeqId> = self.s.keys().copied().collect();
        for seq in tracked {
            let z = z_for(seq, count_of(seq));
            self.step(seq, z, k, h, &mut out);
        }
        // New excesses among the sequences the reference expects.
        for (seq, c) in counts {
            if self.s.contains_key(seq) || out.alarms.iter().any(|(s, _)| s == seq) {
                continue;
            }
            let r = reference.share(*seq);
            if r < min_share || f64::from(*c) <= nf * r {
                continue;
            }
            let z = z_for(*seq, *c);
            self.step(*seq, z, k, h, &mut out);
        }
        out
    }

    fn step(&mut self, seq: SeqId, z: f64, k: f64, h: f64, out: &mut SequentialOutcome) {
        let prev = self.s.get(&seq).copied().unwrap_or(0.0);
        let s = (prev + z - k).max(0.0);
        out.max = out.max.max(s);
        if s > h {
            out.alarms.push((seq, s));
            self.s.remove(&seq);
        } else if s > 0.0 {
            self.s.insert(seq, s);
        } else {
            self.s.remove(&seq);
        }
    }

    /// Starts every statistic again (the reference changed regime).
    pub fn reset(&mut self) {
        self.s.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frequency::evidence::Mix;

    /// A 1000-trace reference: sequence 0 at 90 %, sequence 1 (failed logins) at 3 %, 2 at 7 %.
    fn reference() -> Mix {
        Mix::of_shares(vec![(0, 0.9), (1, 0.03), (2, 0.07)], 1000.0)
    }

    fn run(windows: &[[u32; 3]]) -> Vec<SequentialOutcome> {
        let mut q = Sequential::default();
        windows
            .iter()
            .map(|w| {
                let counts: Vec<(SeqId, u32)> = w.iter().enumerate().map(|(i, c)| (i as SeqId, *c)).collect();
                q.update(&counts, 50, &reference(), Dispersion::default(), 0.005, 1.0, 5.0)
            })
            .collect()
    }

    #[test]
    fn a_sustained_small_excess_alarms_within_a_few_windows() {
        // Failed logins at 5–6 per window instead of 1.5: no single window is overwhelming.
        let w = [[41, 6, 3], [40, 5, 5], [40, 6, 4], [41, 5, 4], [40, 6, 4], [41, 5, 4]];
        let out = run(&w);
        let first = out.iter().position(|o| !o.alarms.is_empty()).expect("alarms");
        assert!(first <= 4, "alarm in window {first}");
        assert_eq!(out[first].alarms[0].0, 1);
        assert!(
            out[first - 1].max > 2.5,
            "building up before the alarm: {:?}",
            out[first - 1]
        );
    }

    #[test]
    fn normal_scatter_does_not_accumulate() {
        let w = [
            [45, 2, 3],
            [44, 1, 5],
            [46, 1, 3],
            [43, 3, 4],
            [45, 1, 4],
            [44, 2, 4],
            [45, 0, 5],
            [44, 2, 4],
        ];
        let out = run(&w);
        assert!(out.iter().all(|o| o.alarms.is_empty()));
        assert!(out.last().unwrap().max < 4.0, "{:?}", out.last());
    }
}
