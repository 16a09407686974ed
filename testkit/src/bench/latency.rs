//! A lock-free latency histogram: log₂ major buckets of microseconds, each split in 16 linear sub-buckets
//! (≤ 6.25 % relative error), so the sink can record every span it receives without a lock or an allocation.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

const SUB: u64 = 16;
const BUCKETS: usize = 640;

/// Span latencies, in microseconds.
pub struct Latency {
    buckets: Vec<AtomicU64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

fn index(us: u64) -> usize {
    if us < SUB {
        return us as usize;
    }
    let major = 63 - us.leading_zeros() as u64;
    let sub = (us >> (major - 4)) & (SUB - 1);
    (((major - 3) * SUB + sub) as usize).min(BUCKETS - 1)
}

fn lower_bound(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let (major, sub) = (i / SUB + 3, i % SUB);
    (SUB + sub) << (major - 4)
}

impl Latency {
    /// Records `n` samples of `ns` nanoseconds.
    pub fn record(&self, ns: u64, n: u64) {
        self.buckets[index(ns / 1_000)].fetch_add(n, Relaxed);
    }

    /// Forgets everything (the end of a warm-up).
    pub fn reset(&self) {
        for b in &self.buckets {
            b.store(0, Relaxed);
        }
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// The `q` quantile in microseconds (a bucket's lower bound), or `None` when empty.
    pub fn quantile_us(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Relaxed);
            if seen >= rank {
                return Some(lower_bound(i));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        for us in [0u64, 1, 15, 16, 17, 31, 32, 33, 1000, 123_456, 9_999_999] {
            let lb = lower_bound(index(us));
            assert!(lb <= us, "{us}: {lb}");
            assert!(us - lb <= us / 16, "{us}: {lb}");
        }
        for i in 1..BUCKETS - 1 {
            assert!(lower_bound(i) > lower_bound(i - 1));
        }
    }

    #[test]
    fn quantiles_of_a_known_distribution() {
        let l = Latency::default();
        for ms in 1..=100u64 {
            l.record(ms * 1_000_000, 1);
        }
        let p50 = l.quantile_us(0.5).unwrap();
        let p99 = l.quantile_us(0.99).unwrap();
        assert!((47_000..=50_000).contains(&p50), "{p50}");
        assert!((93_000..=99_000).contains(&p99), "{p99}");
        l.reset();
        assert_eq!(l.quantile_us(0.5), None);
    }
}
