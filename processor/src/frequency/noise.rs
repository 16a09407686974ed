//! How much a normal window's sequence counts scatter around what the reference expects: the calibration of
//! every test in [`super::evidence`].
//!
//! A window of `n` traces drawn from a reference of shares `r` has multinomial counts: sequence `s` varies by
//! `n·r·(1 − r)`, plus `n/N` of that again for the reference's own estimate from `N` traces. Real traffic
//! scatters more, for two reasons that grow differently with the expected count `e = n·r`:
//!
//! - **sessions** (within a window): one user's requests come in runs of the same kind, so counts are
//!   overdispersed by a roughly constant factor `φ` (a compound Poisson's `E[K²]/E[K]`);
//! - **drift** (between windows): the reference lags the true mix, and a share that is off by a relative
//!   `√κ`-ish amount adds variance `κ·e²`, which matters for common sequences only.
//!
//! So the variance is modelled as `n·r·(1 − r)·(1 + n/N)·(φ + κ·e)` (the quasi-likelihood form of a
//! negative-binomial-like scatter), and both factors are **measured on normal windows**: the squared
//! standardized residual `z² = (c − e)² / (e (1 − r)(1 + n/N))` has mean `φ + κe` (Pearson's dispersion
//! statistic, exact for discrete counts however small `e` is, where a median would not be), so its mean over
//! cells with small `e` (< 2) gives `φ`, and over cells with larger `e` gives `φ + κ·ē`. Each `z²` is capped at
//! [`CAP`] first (a winsorized mean): a few odd windows (a fault, a clump of one rare sequence) must not loosen
//! every test, while the cap, far in the normal tail, leaves a well-behaved mean as it is. Each test then divides
//! counts by `φ + κe` (the effective-sample form of overdispersion, Kish's design effect).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Observations kept per class: a few hundred windows' worth.
const KEEP: usize = 1_000;
/// Observations needed before a class is trusted.
const MIN_OBSERVATIONS: usize = 20;
/// Expected counts at and above this are "common" cells (the drift term's class).
const COMMON_EXPECTED: f64 = 2.0;
/// Cells below this expected count carry too little information to measure scatter.
const MIN_EXPECTED: f64 = 0.3;
/// Cap on one squared residual: `P(χ²₁ > 25) ≈ 6·10⁻⁷`.
const CAP: f64 = 25.0;
/// Bounds: never tighter than the multinomial, never so loose that nothing can be seen.
const PHI_MAX: f64 = 10.0;
const KAPPA_MAX: f64 = 1.0;

/// The measured scatter factors, stored in the model (from the validation windows) and then followed live.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Dispersion {
    /// Within-window overdispersion (sessions): 1 = multinomial.
    pub phi: f64,
    /// Between-window drift, per expected trace.
    pub kappa: f64,
}

impl Default for Dispersion {
    fn default() -> Self {
        Self { phi: 1.0, kappa: 0.0 }
    }
}

impl Dispersion {
    /// The variance factor of a cell expected to hold `e` traces.
    #[inline]
    pub fn factor(&self, e: f64) -> f64 {
        (self.phi + self.kappa * e).max(1.0)
    }
}

/// Running measurement of [`Dispersion`] from windows judged normal.
#[derive(Debug, Clone, Default)]
pub struct Noise {
    current: Dispersion,
    rare: VecDeque<f64>,
    common: VecDeque<(f64, f64)>,
}

impl Noise {
    /// Starts from `d` (the model's), refined by the windows observed from now on.
    pub fn new(d: Dispersion) -> Self {
        Self {
            current: d,
            ..Self::default()
        }
    }

    /// The current estimate.
    pub fn dispersion(&self) -> Dispersion {
        self.current
    }

    /// Records one normal window's residuals: `cells` yields `(observed count, reference share)` for every
    /// sequence the reference expects at least [`MIN_EXPECTED`] traces of; `n` traces, reference of `size`.
    pub fn observe(&mut self, cells: impl IntoIterator<Item = (u32, f64)>, n: usize, size: f64) {
        let n = n as f64;
        let inflate = 1.0 + n / size.max(1.0);
        for (c, r) in cells {
            let e = n * r;
            if e < MIN_EXPECTED || r >= 1.0 {
                continue;
            }
            let z2 = ((f64::from(c) - e).powi(2) / (e * (1.0 - r) * inflate)).min(CAP);
            if e < COMMON_EXPECTED {
                push(&mut self.rare, z2);
            } else {
                push(&mut self.common, (e, z2));
            }
        }
        self.refit();
    }

    fn refit(&mut self) {
        if self.rare.len() >= MIN_OBSERVATIONS {
            self.current.phi = mean(self.rare.iter().copied()).clamp(1.0, PHI_MAX);
        }
        if self.common.len() >= MIN_OBSERVATIONS {
            let at_e = mean(self.common.iter().map(|(_, z)| *z));
            let e = mean(self.common.iter().map(|(e, _)| *e));
            self.current.kappa = ((at_e - self.current.phi) / e).clamp(0.0, KAPPA_MAX);
        }
    }
}

fn mean(xs: impl ExactSizeIterator<Item = f64>) -> f64 {
    let n = xs.len().max(1) as f64;
    xs.sum::<f64>() / n
}

fn push<T>(q: &mut VecDeque<T>, v: T) {
    if q.len() == KEEP {
        q.pop_front();
    }
    q.push_back(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic generator (xorshift), so that the test needs no crate.
    struct Gen(u64);
    impl Gen {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// Multinomial draws of `n` from `shares`.
    fn window(g: &mut Gen, shares: &[f64], n: usize, clump: u32) -> Vec<u32> {
        let mut counts = vec![0u32; shares.len()];
        let mut drawn = 0;
        while drawn < n {
            let u = g.unit();
            let mut acc = 0.0;
            let i = shares.iter().position(|s| {
                acc += s;
                u < acc
            });
            let i = i.unwrap_or(shares.len() - 1);
            // Sessions: each draw brings `clump` traces of one kind.
            let k = clump.min((n - drawn) as u32);
            counts[i] += k;
            drawn += k as usize;
        }
        counts
    }

    fn measure(clump: u32) -> Dispersion {
        let shares = [0.3, 0.2, 0.15, 0.1, 0.08, 0.06, 0.04, 0.03, 0.02, 0.02];
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        let mut noise = Noise::default();
        for _ in 0..300 {
            let w = window(&mut g, &shares, 50, clump);
            noise.observe(w.iter().copied().zip(shares.iter().copied()), 50, 1e9);
        }
        noise.dispersion()
    }

    #[test]
    fn multinomial_windows_measure_as_multinomial() {
        let d = measure(1);
        assert!(d.phi < 1.25, "{d:?}");
        assert!(d.kappa < 0.05, "{d:?}");
    }

    #[test]
    fn sessions_measure_as_overdispersion() {
        // Runs of 3 of a kind: the variance of a count triples.
        let d = measure(3);
        assert!((2.0..4.5).contains(&(d.phi + d.kappa * 5.0)), "{d:?}");
    }
}
