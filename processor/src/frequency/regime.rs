//! Following a workload that changes without learning the attacks inside it.
//!
//! A **regime change** is a persistent, self-consistent new mix; a **burst** is a transient departure. Only
//! persistence tells them apart, so the rule is about persistence, and it never learns from a window that is
//! an open alarm:
//!
//! - A window that departs from the reference opens (or extends) a **pending regime**: the departed windows
//!   that agree with each other (each tested against the pool of the others with the same tests,
//!   [`super::evidence::assess`]). A burst on top of a pending regime (a surge against the pool) is flagged and
//!   left out of it; a window that departs from the pool too starts a new one; a window back within the
//!   reference's noise drops it (the departure was a burst).
//! - After [`DEFAULT_CONFIRM`] agreeing windows the pending regime is **accepted**: the reference becomes its
//!   pool (reported as `anomaly.frequency.rebaselined`; as `anomaly.frequency.sustained` too when all its
//!   windows were surges, i.e. a sustained attack or an additive shift, which was flagged all along) and grows again as
//!   the running mean of the windows that follow. Nothing flags forever: a persistent shift costs at most the
//!   confirmation windows.
//! - Accepted references are remembered (**library**, [`DEFAULT_LIBRARY`] of them). A window that departs from
//!   the reference but matches a mix this application has already shown as normal (day and night, a feature
//!   switched off and on) switches back to it without an alarm.
//!
//! The trade-off, plainly: an attack that lasts longer than the confirmation is reported (flagged for each of
//! its windows, then `sustained`) and then becomes the reference — a persistent shift is a persistent shift.
//! `--confirm-within` sets the confirmation; 0 never accepts a surge (it flags for as long as it lasts) but then
//! a legitimate additive shift flags for as long, too.

use std::collections::VecDeque;

use super::evidence::Mix;
use super::sequence::SeqId;

/// Agreeing departed windows that confirm a regime change.
pub const DEFAULT_CONFIRM: usize = 3;
/// Past references remembered.
pub const DEFAULT_LIBRARY: usize = 8;

/// Departed windows that agree with each other.
#[derive(Debug, Clone, Default)]
pub struct Pending {
    pooled: Vec<(SeqId, u32)>,
    windows: usize,
    /// Its windows that were surges (alarms), not re-mixes.
    surges: usize,
    mix: Mix,
}

impl Pending {
    /// No pending regime.
    pub fn is_empty(&self) -> bool {
        self.windows == 0
    }

    /// Agreeing windows so far.
    pub fn windows(&self) -> usize {
        self.windows
    }

    /// Some of its windows were surges.
    pub fn surged(&self) -> bool {
        self.surges > 0
    }

    /// Every one of its windows was a surge: traffic added to normal for as long as it lasted (a sustained
    /// attack, or an additive shift), not a re-mix.
    pub fn all_surges(&self) -> bool {
        self.windows > 0 && self.surges == self.windows
    }

    /// The pool as a reference.
    pub fn mix(&self) -> &Mix {
        &self.mix
    }

    /// Starts again from one window.
    pub fn restart(&mut self, counts: &[(SeqId, u32)], surge: bool) {
        self.clear();
        self.push(counts, surge);
    }

    /// Adds an agreeing window.
    pub fn push(&mut self, counts: &[(SeqId, u32)], surge: bool) {
        self.pooled = merge_counts(&self.pooled, counts);
        self.windows += 1;
        self.surges += usize::from(surge);
        self.mix = Mix::of_counts(&self.pooled);
    }

    /// Forgets it.
    pub fn clear(&mut self) {
        self.pooled.clear();
        self.windows = 0;
        self.surges = 0;
        self.mix = Mix::default();
    }

    /// Every sequence it holds.
    pub fn sequences(&self) -> impl Iterator<Item = SeqId> + '_ {
        self.pooled.iter().map(|(s, _)| *s)
    }
}

/// Two sorted `(sequence, count)` lists as one sorted list, counts added.
pub fn merge_counts(a: &[(SeqId, u32)], b: &[(SeqId, u32)]) -> Vec<(SeqId, u32)> {
    let mut merged = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    loop {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                merged.push((x.0, x.1 + y.1));
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.0 < y.0 => {
                merged.push(*x);
                i += 1;
            }
            (Some(x), None) => {
                merged.push(*x);
                i += 1;
            }
            (_, Some(y)) => {
                merged.push(*y);
                j += 1;
            }
            (None, None) => return merged,
        }
    }
}

/// References accepted before, newest first.
#[derive(Debug, Clone, Default)]
pub struct Library {
    regimes: VecDeque<Mix>,
    capacity: usize,
}

impl Library {
    /// Remembers up to `capacity` references.
    pub fn new(capacity: usize) -> Self {
        Self {
            regimes: VecDeque::new(),
            capacity,
        }
    }

    /// Remembers `mix` (the reference being left).
    pub fn remember(&mut self, mix: Mix) {
        if self.capacity == 0 {
            return;
        }
        if self.regimes.len() == self.capacity {
            self.regimes.pop_back();
        }
        self.regimes.push_front(mix);
    }

    /// The remembered references, newest first.
    pub fn iter(&self) -> impl Iterator<Item = &Mix> {
        self.regimes.iter()
    }

    /// Takes the `i`-th reference out (to become the current one).
    pub fn take(&mut self, i: usize) -> Option<Mix> {
        self.regimes.remove(i)
    }

    /// Forgets everything (sequence ids were renumbered).
    pub fn clear(&mut self) {
        self.regimes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frequency::evidence::Reference;

    #[test]
    fn pending_pools_agreeing_windows() {
        let mut p = Pending::default();
        p.push(&[(1, 3), (4, 1)], false);
        p.push(&[(2, 2), (4, 2)], true);
        assert_eq!(p.windows(), 2);
        assert!(p.surged() && !p.all_surges());
        assert_eq!(p.sequences().collect::<Vec<_>>(), vec![1, 2, 4]);
        assert!((p.mix().share(4) - 3.0 / 8.0).abs() < 1e-12);
        p.restart(&[(7, 5)], false);
        assert_eq!((p.windows(), p.surged()), (1, false));
    }

    #[test]
    fn merging_adds_counts() {
        assert_eq!(
            merge_counts(&[(1, 2), (3, 1)], &[(2, 5), (3, 4)]),
            vec![(1, 2), (2, 5), (3, 5)]
        );
    }

    #[test]
    fn library_keeps_the_newest() {
        let mut l = Library::new(2);
        for s in 0..3 {
            l.remember(Mix::of_counts(&[(s, 1)]));
        }
        let first: Vec<f64> = l.iter().map(|m| m.share(2)).collect();
        assert_eq!(first, vec![1.0, 0.0]);
        assert!(l.take(0).is_some());
        assert_eq!(l.iter().count(), 1);
    }
}
