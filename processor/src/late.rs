//! Memory of recently forwarded traces, so that a span arriving after its trace was scored is still forwarded
//! with its window's verdict (and `anomaly.late = true`) instead of starting a bogus one-span trace.

use std::collections::VecDeque;
use std::sync::Arc;

use hashbrown::HashMap;

use crate::record::Appended;
use crate::TraceId;

/// Bounded FIFO map: trace id → the attributes its window's spans got.
pub(crate) struct Forwarded {
    attrs: HashMap<TraceId, Arc<Appended>>,
    order: VecDeque<TraceId>,
    capacity: usize,
}

impl Forwarded {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            attrs: HashMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn remember(&mut self, id: TraceId, attrs: Arc<Appended>) {
        if self.attrs.insert(id, attrs).is_none() {
            self.order.push_back(id);
            while self.order.len() > self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.attrs.remove(&old);
                }
            }
        }
    }

    pub(crate) fn get(&self, id: &TraceId) -> Option<&Arc<Appended>> {
        if self.attrs.is_empty() {
            return None;
        }
        self.attrs.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_oldest_beyond_capacity() {
        let mut f = Forwarded::new(2);
        for n in 1..=3u8 {
            f.remember([n; 16], Arc::default());
        }
        assert!(f.get(&[1; 16]).is_none());
        assert!(f.get(&[2; 16]).is_some() && f.get(&[3; 16]).is_some());
    }
}
