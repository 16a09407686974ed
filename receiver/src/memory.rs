//! The memory limit (`processors.anomaly.memory_limit`): what the pipeline holds of the spans it accepted,
//! bounded by a number the operator sets, in the spirit of the collector's `memory_limiter`.
//!
//! Spans travel as slices of their request's body, from the receiver to the exporter (spanguard never decodes
//! them), so what the pipeline holds is the bodies of the requests some span of which is still in it — the
//! trace being assembled, the window being scored, the exporter's queue — plus each span's own bookkeeping.
//! Each admitted body is therefore wrapped in a [`Held`] owner, weighed as its length plus
//! [`SPAN_OVERHEAD`] per span, and the weight is released when the last span slice of it is dropped (after
//! export, or a drop that was counted). A request that would take the total over the limit is refused at the
//! door with 429 / UNAVAILABLE (a retry later) and counted (`reason="memory_limit"`), like a full queue.
//!
//! What the weight leaves out — the runtime, the detectors' models, the exporters' encoding buffers, the
//! allocator's slack — is the fixed overhead above the limit that `spanguard bench` measures (BENCHMARKS.md).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use spanguard_telemetry::{names, Gauge, Registry};

/// Bytes of bookkeeping per span held, beyond its encoded bytes: the record, its place in a trace, a window and
/// a batch, and the allocator's rounding (measured: ≤ 1 KiB per in-flight span at saturation, BENCHMARKS.md).
pub const SPAN_OVERHEAD: u64 = 1024;

struct Memory {
    held: AtomicU64,
    limit: u64,
    gauge: Option<Gauge>,
}

impl Memory {
    fn release(&self, weight: u64) {
        let now = self.held.fetch_sub(weight, Ordering::AcqRel) - weight;
        if let Some(g) = &self.gauge {
            g.set(now as i64);
        }
    }
}

/// The pipeline's memory budget. Cheap to clone; every receiver shares one.
#[derive(Clone)]
pub struct Budget(Arc<Memory>);

impl Default for Budget {
    fn default() -> Self {
        Self::unlimited()
    }
}

impl Budget {
    /// A budget of `limit` bytes, reported as `spanguard_memory_held_bytes` and `spanguard_memory_limit_bytes`.
    pub fn new(limit: u64, registry: &Registry) -> Self {
        registry
            .gauge(&names::MEMORY_LIMIT, &[])
            .set(i64::try_from(limit).unwrap_or(i64::MAX));
        let gauge = registry.gauge(&names::MEMORY_HELD, &[]);
        Self(Arc::new(Memory {
            held: AtomicU64::new(0),
            limit,
            gauge: Some(gauge),
        }))
    }

    /// No limit (tests, file readers).
    pub fn unlimited() -> Self {
        Self(Arc::new(Memory {
            held: AtomicU64::new(0),
            limit: u64::MAX,
            gauge: None,
        }))
    }

    /// Bytes held now.
    pub fn held(&self) -> u64 {
        self.0.held.load(Ordering::Acquire)
    }

    /// At or over the limit: refuse without looking inside a request.
    pub fn full(&self) -> bool {
        self.held() >= self.0.limit
    }

    /// Takes `body` (of `spans` spans) into the budget: the same bytes, now owned by a [`Held`] that releases
    /// their weight when its last slice is dropped; `None` when they would take the budget over its limit.
    /// An empty pipeline always takes one request, so that a request larger than the limit cannot wait forever
    /// (the config keeps `max_request_bytes` below the limit anyway).
    pub fn hold(&self, body: Bytes, spans: usize) -> Option<Bytes> {
        let weight = body.len() as u64 + spans as u64 * SPAN_OVERHEAD;
        let m = &self.0;
        let mut now = m.held.load(Ordering::Acquire);
        loop {
            if now > 0 && now.saturating_add(weight) > m.limit {
                return None;
            }
            match m
                .held
                .compare_exchange_weak(now, now + weight, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(actual) => now = actual,
            }
        }
        if let Some(g) = &m.gauge {
            g.set((now + weight) as i64);
        }
        Some(Bytes::from_owner(Held {
            bytes: body,
            weight,
            memory: Arc::clone(&self.0),
        }))
    }
}

/// A request body inside the budget: its weight is released when the last span slice of it is dropped.
struct Held {
    bytes: Bytes,
    weight: u64,
    memory: Arc<Memory>,
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.memory.release(self.weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_is_released_when_the_last_slice_goes() {
        let registry = Registry::new();
        let budget = Budget::new(3 * SPAN_OVERHEAD + 100, &registry);
        let body = budget.hold(Bytes::from(vec![7u8; 100]), 2).expect("fits");
        assert_eq!(budget.held(), 100 + 2 * SPAN_OVERHEAD);
        let slice = body.slice(10..20);
        drop(body);
        assert_eq!(budget.held(), 100 + 2 * SPAN_OVERHEAD, "a slice keeps the whole body");
        // Over the limit while the first is held.
        assert!(budget.hold(Bytes::from(vec![0u8; 10]), 1).is_none());
        assert_eq!(&slice[..], &[7u8; 10]);
        drop(slice);
        assert_eq!(budget.held(), 0);
        assert!(!budget.full());
        // An empty pipeline takes even an oversized request.
        assert!(budget.hold(Bytes::from(vec![0u8; 10]), 10).is_some());
    }
}
