//! A trace as its call sequence (paper §4.2.1: "each event span is identified by a combination of the service
//! name and operation name"; a trace is the sequence of them).
//!
//! # The walk (part of the model's meaning: models trained with one rule cannot be scored with another)
//!
//! 1. Each span is the call `service.name/span name` (`service.name` from its resource).
//! 2. A span's parent is the span of the same trace whose `span_id` equals its `parent_span_id`; when the first
//!    span with that id is meant. A span with no parent id, a parent that is missing (an orphan) or itself as
//!    parent is a root.
//! 3. Roots, and the children of each span, are ordered by start time, then service, then name, then span id.
//! 4. The sequence is the pre-order walk: a span, then the walk of each of its children in that order, root after
//!    root. Spans in parent cycles (unreachable from any root) are walked afterwards, as roots, in the same order.
//!
//! A global sort by start time would let clock skew between hosts put a child before its parent and let
//! concurrent subtrees interleave; the tree walk keeps a subtree together, so only the order of siblings can vary.

use std::hash::{Hash, Hasher};

use hashbrown::{Equivalent, HashMap};

use crate::{SpanRecord, Trace};

/// Index of a call (service, operation) in a [`Vocabulary`].
pub type CallId = u32;
/// Index of a sequence in a [`Vocabulary`].
pub type SeqId = u32;

#[derive(PartialEq, Eq, Clone)]
struct CallKey {
    service: Box<str>,
    operation: Box<str>,
}

impl Hash for CallKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (&*self.service, &*self.operation).hash(h);
    }
}

#[derive(Hash)]
struct CallRef<'a>((&'a str, &'a str));

impl Equivalent<CallKey> for CallRef<'_> {
    fn equivalent(&self, key: &CallKey) -> bool {
        *key.service == *self.0 .0 && *key.operation == *self.0 .1
    }
}

/// Interned calls and sequences. The first `permanent` entries of each table belong to the model; entries after
/// them are transient (seen only in the current window) and are forgotten by [`Vocabulary::clear_transient`], so
/// traffic full of never-seen sequences cannot grow memory without bound.
#[derive(Default, Clone)]
pub struct Vocabulary {
    calls: HashMap<CallKey, CallId>,
    call_names: Vec<(Box<str>, Box<str>)>,
    sequences: HashMap<Box<[CallId]>, SeqId>,
    seq_calls: Vec<Box<[CallId]>>,
    permanent_calls: usize,
    permanent_seqs: usize,
}

impl Vocabulary {
    /// An empty vocabulary.
    pub fn new() -> Self {
        Self::default()
    }

    /// The id of call `service/operation`, interning it if new.
    #[inline]
    pub fn call(&mut self, service: &str, operation: &str) -> CallId {
        let key = CallRef((service, operation));
        if let Some(id) = self.calls.get(&key) {
            return *id;
        }
        let id = self.call_names.len() as CallId;
        self.call_names.push((service.into(), operation.into()));
        self.calls.insert(
            CallKey {
                service: service.into(),
                operation: operation.into(),
            },
            id,
        );
        id
    }

    /// The id of a sequence, interning it if new.
    #[inline]
    pub fn sequence(&mut self, calls: &[CallId]) -> SeqId {
        if let Some(id) = self.sequences.get(calls) {
            return *id;
        }
        let id = self.seq_calls.len() as SeqId;
        self.seq_calls.push(calls.into());
        self.sequences.insert(calls.into(), id);
        id
    }

    /// The id of a sequence if already known.
    pub fn find(&self, calls: &[CallId]) -> Option<SeqId> {
        self.sequences.get(calls).copied()
    }

    /// Number of sequences (permanent and transient).
    pub fn len(&self) -> usize {
        self.seq_calls.len()
    }

    /// Whether there are no sequences.
    pub fn is_empty(&self) -> bool {
        self.seq_calls.is_empty()
    }

    /// Number of permanent sequences.
    pub fn permanent_len(&self) -> usize {
        self.permanent_seqs
    }

    /// Makes everything interned so far permanent.
    pub fn freeze(&mut self) {
        self.permanent_calls = self.call_names.len();
        self.permanent_seqs = self.seq_calls.len();
    }

    /// Forgets transient calls and sequences.
    pub fn clear_transient(&mut self) {
        if self.seq_calls.len() > self.permanent_seqs {
            for calls in self.seq_calls.drain(self.permanent_seqs..) {
                self.sequences.remove(&calls);
            }
        }
        if self.call_names.len() > self.permanent_calls {
            for (s, o) in self.call_names.drain(self.permanent_calls..) {
                self.calls.remove(&CallRef((&s, &o)));
            }
        }
    }

    /// The calls of a sequence.
    pub fn calls_of(&self, seq: SeqId) -> &[CallId] {
        self.seq_calls.get(seq as usize).map(|c| &c[..]).unwrap_or(&[])
    }

    /// `(service, operation)` of a call.
    pub fn call_name(&self, call: CallId) -> (&str, &str) {
        self.call_names
            .get(call as usize)
            .map(|(s, o)| (&**s, &**o))
            .unwrap_or(("?", "?"))
    }

    /// All calls, in id order.
    pub fn call_names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.call_names.iter().map(|(s, o)| (&**s, &**o))
    }

    /// A sequence for people: `svc/op -> svc/op -> …`.
    pub fn text(&self, seq: SeqId) -> String {
        let mut out = String::new();
        for (i, c) in self.calls_of(seq).iter().enumerate() {
            if i > 0 {
                out.push_str(" -> ");
            }
            let (s, o) = self.call_name(*c);
            out.push_str(s);
            out.push('/');
            out.push_str(o);
        }
        out
    }
}

const NONE: u32 = u32::MAX;

/// Rule 3: start time, then service, then name, then span id.
fn sibling_order(a: &SpanRecord, b: &SpanRecord) -> std::cmp::Ordering {
    a.span
        .start_time_unix_nano
        .cmp(&b.span.start_time_unix_nano)
        .then_with(|| a.service().cmp(b.service()))
        .then_with(|| a.span.name.cmp(&b.span.name))
        .then_with(|| a.span.span_id.cmp(&b.span.span_id))
}

/// Extracts call sequences, reusing its buffers across traces (no allocation per trace once warm).
#[derive(Default, Clone)]
pub struct SequenceExtractor {
    ids: Vec<(u64, u32)>,
    parent: Vec<u32>,
    order: Vec<u32>,
    visited: Vec<bool>,
    stack: Vec<u32>,
    calls: Vec<CallId>,
    span_calls: Vec<CallId>,
}

fn id64(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes)
        .ok()
        .map(u64::from_be_bytes)
        .filter(|v| *v != 0)
}

impl SequenceExtractor {
    /// A new extractor.
    pub fn new() -> Self {
        Self::default()
    }

    /// The calls of `trace` in walk order (borrowed until the next call).
    pub fn calls(&mut self, trace: &Trace, vocab: &mut Vocabulary) -> &[CallId] {
        let spans = &trace.spans;
        let n = spans.len();
        self.ids.clear();
        self.span_calls.clear();
        for (i, r) in spans.iter().enumerate() {
            self.span_calls.push(vocab.call(r.service(), &r.span.name));
            if let Some(id) = id64(&r.span.span_id) {
                self.ids.push((id, i as u32));
            }
        }
        // Stable sort keeps the first span of a duplicated id first: it is the parent target.
        self.ids.sort_by_key(|(id, _)| *id);
        self.parent.clear();
        for r in spans.iter() {
            let own = id64(&r.span.span_id);
            let p = match id64(&r.span.parent_span_id) {
                Some(pid) if Some(pid) != own => match self.ids.binary_search_by_key(&pid, |(id, _)| *id) {
                    Ok(mut at) => {
                        while at > 0 && self.ids[at - 1].0 == pid {
                            at -= 1;
                        }
                        self.ids[at].1
                    }
                    Err(_) => NONE,
                },
                _ => NONE,
            };
            self.parent.push(p);
        }
        self.order.clear();
        self.order.extend(0..n as u32);
        let parent = &self.parent;
        self.order.sort_by(|a, b| {
            parent[*a as usize]
                .cmp(&parent[*b as usize])
                .then_with(|| sibling_order(&spans[*a as usize], &spans[*b as usize]))
        });
        self.visited.clear();
        self.visited.resize(n, false);
        self.calls.clear();
        // Roots sort last (parent = NONE = u32::MAX).
        let roots_start = self.order.partition_point(|i| self.parent[*i as usize] != NONE);
        for r in roots_start..n {
            let root = self.order[r];
            self.walk(root);
        }
        if self.calls.len() < n {
            // Cycles: walk what is left as roots, ordered as siblings are.
            let mut left: Vec<u32> = (0..n as u32).filter(|i| !self.visited[*i as usize]).collect();
            left.sort_by(|a, b| sibling_order(&spans[*a as usize], &spans[*b as usize]));
            for i in left {
                self.walk(i);
            }
        }
        &self.calls
    }

    fn walk(&mut self, root: u32) {
        if self.visited[root as usize] {
            return;
        }
        self.stack.clear();
        self.stack.push(root);
        while let Some(i) = self.stack.pop() {
            if self.visited[i as usize] {
                continue;
            }
            self.visited[i as usize] = true;
            self.calls.push(self.span_calls[i as usize]);
            // Children of i are the contiguous run of `order` whose parent is i.
            let lo = self.order.partition_point(|j| self.parent[*j as usize] < i);
            let hi = self.order.partition_point(|j| self.parent[*j as usize] <= i);
            for k in (lo..hi).rev() {
                let c = self.order[k];
                if !self.visited[c as usize] {
                    self.stack.push(c);
                }
            }
        }
    }

    /// The sequence id of `trace`.
    pub fn sequence(&mut self, trace: &Trace, vocab: &mut Vocabulary) -> SeqId {
        self.calls(trace, vocab);
        let calls = std::mem::take(&mut self.calls);
        let id = vocab.sequence(&calls);
        self.calls = calls;
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ResourceCtx, ScopeCtx};
    use opentelemetry_proto::tonic::trace::v1::Span;
    use std::sync::Arc;

    fn span(service: &str, name: &str, id: u8, parent: u8, start: u64) -> SpanRecord {
        SpanRecord {
            resource: Arc::new(ResourceCtx {
                service: Arc::from(service),
                ..Default::default()
            }),
            scope: Arc::new(ScopeCtx::default()),
            span: Span {
                trace_id: vec![1; 16],
                span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
                parent_span_id: if parent == 0 {
                    Vec::new()
                } else {
                    vec![0, 0, 0, 0, 0, 0, 0, parent]
                },
                name: name.into(),
                start_time_unix_nano: start,
                ..Default::default()
            },
        }
    }

    fn text(spans: Vec<SpanRecord>) -> String {
        let mut v = Vocabulary::new();
        let mut x = SequenceExtractor::new();
        let t = Trace { id: [1; 16], spans };
        let s = x.sequence(&t, &mut v);
        v.text(s)
    }

    #[test]
    fn preorder_walk_keeps_subtrees_together_despite_skew() {
        // The child of `b` started (by its host's clock) before `a`: a time sort would interleave subtrees.
        let spans = vec![
            span("gw", "login", 1, 0, 100),
            span("user", "b", 3, 1, 130),
            span("user", "a", 2, 1, 120),
            span("mongo", "find", 4, 3, 110),
        ];
        assert_eq!(text(spans), "gw/login -> user/a -> user/b -> mongo/find");
    }

    #[test]
    fn arrival_order_does_not_matter() {
        let a = vec![
            span("gw", "r", 1, 0, 0),
            span("x", "a", 2, 1, 5),
            span("y", "b", 3, 1, 5),
        ];
        let b = vec![
            span("y", "b", 3, 1, 5),
            span("x", "a", 2, 1, 5),
            span("gw", "r", 1, 0, 0),
        ];
        assert_eq!(text(a), text(b));
        assert_eq!(
            text(vec![
                span("gw", "r", 1, 0, 0),
                span("y", "b", 3, 1, 5),
                span("x", "a", 2, 1, 5)
            ]),
            "gw/r -> x/a -> y/b"
        );
    }

    #[test]
    fn orphans_and_cycles_are_walked_not_lost() {
        let orphan = vec![
            span("gw", "r", 1, 0, 0),
            span("x", "lost", 2, 9, 1),
            span("x", "kid", 3, 2, 2),
        ];
        assert_eq!(text(orphan), "gw/r -> x/lost -> x/kid");
        let cycle = vec![
            span("a", "p", 1, 2, 0),
            span("b", "q", 2, 1, 1),
            span("c", "self", 3, 3, 2),
        ];
        assert_eq!(text(cycle), "c/self -> a/p -> b/q");
    }

    #[test]
    fn transient_entries_are_forgotten() {
        let mut v = Vocabulary::new();
        let c = v.call("a", "b");
        let s = v.sequence(&[c]);
        v.freeze();
        let c2 = v.call("evil", "random-1");
        v.sequence(&[c, c2]);
        assert_eq!(v.len(), 2);
        v.clear_transient();
        assert_eq!(v.len(), 1);
        assert_eq!(v.find(&[c]), Some(s));
        assert_eq!(v.call("evil", "random-2"), c2, "transient call ids are reused");
    }
}
