//! Following drifting traffic without learning attacks.
//!
//! Two mechanisms, both refusing to learn from a single flagged window:
//!
//! - **Slow adaptation** (`alpha`): every window judged normal moves the baseline a small step towards itself
//!   (`f ← (1 − α)·f + α·observed`), so gradual changes in the traffic mix are absorbed.
//! - **Confirmed regime changes** (`confirm_within`, off by default): real traffic also changes abruptly (a
//!   release, a failed dependency, a new client) and then every window is far from the old baseline, so slow
//!   adaptation that skips flagged windows never catches up. What separates such a change from a burst is
//!   *persistence*: two flagged windows at most `confirm_within` windows apart that agree with each other
//!   (window-to-window distance within `mean·√2`, the spread expected between two normal samples of one
//!   distribution) confirm a new regime, the baseline moves most of the way (`beta`) to the pooled pair, and then
//!   becomes the running mean of the new regime's windows. A one-window burst agrees with no other window and
//!   stays flagged.
//!
//! The price, measured and stated plainly (README): a *sustained* attack is persistent too, so it is flagged for
//! its first windows and then learned — on the social-network workload, re-baselining cuts the share of attack
//! windows flagged from 75–100 % to 20–45 %. That is why it is off by default: turn it on where abrupt,
//! legitimate shifts are common (on the OnlineBoutique data it cuts false alarms from 71 % to 6 % of windows).
//! Each re-baselining is reported (`anomaly.frequency.rebaselined`, a warning in the log).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::baseline::Baseline;
use super::sequence::SeqId;

/// Drift settings, stored in the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Adaptation {
    /// Step towards each window judged normal; 0 keeps the paper's fixed baseline.
    pub alpha: f64,
    /// Two flagged windows at most this many windows apart that agree confirm a regime change; 0 = never.
    #[serde(default)]
    pub confirm_within: usize,
    /// Step towards a confirmed new regime.
    #[serde(default = "default_beta")]
    pub beta: f64,
    /// Most sequences remembered; the rarest are forgotten beyond it.
    pub max_sequences: usize,
}

fn default_beta() -> f64 {
    0.8
}

impl Default for Adaptation {
    fn default() -> Self {
        Self {
            alpha: 0.0,
            confirm_within: 0,
            beta: default_beta(),
            max_sequences: 100_000,
        }
    }
}

impl Adaptation {
    /// The default for live traffic: slow adaptation, no automatic re-baselining (see the module docs).
    pub fn recommended() -> Self {
        Self {
            alpha: 0.05,
            confirm_within: 0,
            beta: default_beta(),
            max_sequences: 100_000,
        }
    }

    /// [`Adaptation::recommended`] plus re-baselining on confirmed regime changes, for traffic that shifts
    /// abruptly.
    pub fn with_regime_changes() -> Self {
        Self {
            confirm_within: 2,
            ..Self::recommended()
        }
    }
}

#[derive(Clone)]
struct Candidate {
    counts: Vec<(SeqId, u32)>,
    n: usize,
    age: usize,
}

/// Recent flagged windows that may yet be confirmed as a new regime.
#[derive(Default, Clone)]
pub struct Candidates {
    recent: VecDeque<Candidate>,
}

impl Candidates {
    /// A flagged window (`counts`, `n`): returns the earlier flagged window it agrees with (distance measured
    /// in `baseline`'s statistic), if any.
    pub fn confirm(
        &self,
        baseline: &Baseline,
        counts: &[(SeqId, u32)],
        n: usize,
        agree_within: f64,
    ) -> Option<(&[(SeqId, u32)], usize)> {
        self.recent
            .iter()
            .rev()
            .find(|c| baseline.window_distance(&c.counts, c.n, counts, n) <= agree_within)
            .map(|c| (&c.counts[..], c.n))
    }

    /// Remembers a flagged window.
    pub fn push(&mut self, counts: &[(SeqId, u32)], n: usize) {
        self.recent.push_back(Candidate {
            counts: counts.to_vec(),
            n,
            age: 0,
        });
    }

    /// One window passed: forgets candidates that could no longer confirm a window at most `within` windows
    /// after them.
    pub fn tick(&mut self, within: usize) {
        for c in &mut self.recent {
            c.age += 1;
        }
        while self.recent.front().is_some_and(|c| c.age > within) {
            self.recent.pop_front();
        }
    }

    /// Forgets every candidate.
    pub fn clear(&mut self) {
        self.recent.clear();
    }
}
