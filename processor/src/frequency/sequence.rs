//! A trace as its call sequence (paper §4.2.1: "each event span is identified by a combination of the service
//! name and operation name"; a trace is the sequence of them).
//!
//! # The walk (part of the model's meaning: models trained with one rule cannot be scored with another)
//!
//! 1. Each span is the call `service.name/span name` (`service.name` from its resource).
//! 2. A span's parent is the span of the same trace whose `span_id` equals its `parent_span_id`. A span whose
//!    id repeats an earlier span's is a copy delivered twice (exporters retry: delivery is at least once), not a
//!    second call: it is left out, and the first span with that id is the parent. A span with no parent id, a
//!    parent that is missing (an orphan) or itself as parent is a root.
//! 3. Roots, and the children of each span, are ordered by start time, then service, then name, then span id
//!    ([`Siblings::Time`], the paper's order, the default). With [`Siblings::Concurrent`] (`--siblings concurrent`),
//!    siblings that ran at the same time — each started before the ones started earlier had all ended — form a
//!    group in a fixed order: by a digest of the call's names (the same in every process), then by a digest of
//!    what it called (its subtree's walk); the groups stay in time order.
//! 4. The sequence is the pre-order walk: a span, then the walk of each of its children in that order, root after
//!    root. Spans in parent cycles (unreachable from any root) are walked afterwards, as roots, in time order.
//!
//! A global sort by start time would let clock skew between hosts put a child before its parent and let
//! concurrent subtrees interleave; the tree walk keeps a subtree together, so only the order of siblings can vary.
//! Which of two concurrent calls the scheduler happened to start first is noise, not behaviour: a fan-out to k
//! services in parallel is up to k! sequences in time order (the paper's social network: 1308 sequences in 1856
//! composePost traces, §4.2.2), which spreads one kind of request over many rare sequences and buries a surge
//! of it, or a never-seen path, in what looks like the noise of constant novelty. Concurrent groups in a fixed
//! order make it one sequence, and keep the order of calls that really follow each other.

use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};
use serde::{Deserialize, Serialize};

use crate::{SpanRecord, Trace};

/// How siblings (the children of one span, and the roots) are ordered: part of what a sequence means, so a
/// model records the rule it was trained with (`siblings` in `frequency.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Siblings {
    /// By start time (the paper's order; every model written before the rule was recorded).
    #[default]
    Time,
    /// By start time, except that siblings running at the same time are one group in a fixed order (by a
    /// digest of the call's names, then of what it called).
    Concurrent,
}

impl Siblings {
    /// Its name in `frequency.json` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Time => "time",
            Self::Concurrent => "concurrent",
        }
    }
}

/// Index of a call (service, operation) in a [`Vocabulary`].
pub type CallId = u32;
/// Index of a sequence in a [`Vocabulary`].
pub type SeqId = u32;

/// Index of a service name in a [`Vocabulary`].
pub type ServiceId = u32;

/// Keys stored once, each with its hash; two id tables (permanent and transient) probed with one hash.
/// Forgetting the transient part is a `clear()` and a truncation, not one removal per key.
#[derive(Clone)]
struct Interner<K> {
    permanent: HashTable<u32>,
    transient: HashTable<u32>,
    keys: Vec<K>,
    hashes: Vec<u64>,
    frozen: usize,
}

impl<K> Default for Interner<K> {
    fn default() -> Self {
        Self {
            permanent: HashTable::new(),
            transient: HashTable::new(),
            keys: Vec::new(),
            hashes: Vec::new(),
            frozen: 0,
        }
    }
}

impl<K> Interner<K> {
    #[inline]
    fn find(&self, hash: u64, eq: impl Fn(&K) -> bool) -> Option<u32> {
        let eq = |id: &u32| eq(&self.keys[*id as usize]);
        self.permanent
            .find(hash, eq)
            .or_else(|| self.transient.find(hash, eq))
            .copied()
    }

    #[inline]
    fn intern(&mut self, hash: u64, eq: impl Fn(&K) -> bool, make: impl FnOnce() -> K) -> u32 {
        if let Some(id) = self.find(hash, eq) {
            return id;
        }
        let id = self.keys.len() as u32;
        self.keys.push(make());
        self.hashes.push(hash);
        let hashes = &self.hashes;
        self.transient.insert_unique(hash, id, |i| hashes[*i as usize]);
        id
    }

    fn freeze(&mut self) {
        let hashes = &self.hashes;
        for id in self.frozen..self.keys.len() {
            self.permanent
                .insert_unique(hashes[id], id as u32, |i| hashes[*i as usize]);
        }
        self.transient.clear();
        self.frozen = self.keys.len();
    }

    fn clear_transient(&mut self) {
        self.transient.clear();
        self.keys.truncate(self.frozen);
        self.hashes.truncate(self.frozen);
    }
}

/// Interned services, calls and sequences. Entries interned before [`Vocabulary::freeze`] are permanent (the
/// model's); later ones are transient (seen only in the current window) and are forgotten by
/// [`Vocabulary::clear_transient`], so traffic full of never-seen names and sequences cannot grow memory without
/// bound. A call is `(service id, operation)`: a trace's services are interned once per resource, and each span
/// then hashes and compares its operation name only. The hasher is keyed per process, so crafted span names
/// cannot be made to collide. Operations are told apart by their 64-bit keyed hash ([`spanguard_otlp::name_hash`],
/// computed when the span was received): a live span's name is then read only when its call is first seen,
/// not from the span's long-cold bytes at every window (two names of one service sharing a 64-bit keyed hash
/// would count as one operation: odds of about 10⁻¹¹ for 10 000 names).
#[derive(Clone, Default)]
pub struct Vocabulary {
    build: DefaultHashBuilder,
    services: Interner<Box<str>>,
    /// `(service, hash of the operation, operation)`.
    calls: Interner<(ServiceId, u64, Box<str>)>,
    /// Per call, a digest of its names that is the same in every process (the interners' hashes are keyed per
    /// process): what [`Siblings::Concurrent`] orders subtrees by.
    call_digests: Vec<u64>,
    seqs: Interner<Box<[CallId]>>,
    siblings: Siblings,
}

impl Vocabulary {
    /// An empty vocabulary whose sequences order siblings by time.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty vocabulary whose sequences order siblings by `siblings`.
    pub fn with_siblings(siblings: Siblings) -> Self {
        Self {
            siblings,
            ..Self::default()
        }
    }

    /// How this vocabulary's sequences order siblings.
    pub fn siblings(&self) -> Siblings {
        self.siblings
    }

    /// The id of a service name, interning it if new.
    pub fn service(&mut self, name: &str) -> ServiceId {
        let hash = self.build.hash_one(name);
        self.services.intern(hash, |k| **k == *name, || name.into())
    }

    /// The id of call `operation` of service `service`, interning it if new.
    #[inline]
    pub fn call_of(&mut self, service: ServiceId, operation: &str) -> CallId {
        self.call_hashed(service, spanguard_otlp::name_hash(operation), || operation)
    }

    /// The id of the call of service `service` whose operation has `name_hash`; `operation` is asked for only
    /// when the call is new.
    #[inline]
    pub fn call_hashed<'a>(
        &mut self,
        service: ServiceId,
        name_hash: u64,
        operation: impl FnOnce() -> &'a str,
    ) -> CallId {
        let hash = self.build.hash_one((service, name_hash));
        let id = self.calls.intern(
            hash,
            |(s, h, _)| *s == service && *h == name_hash,
            || (service, name_hash, operation().into()),
        );
        if id as usize >= self.call_digests.len() {
            let (s, o) = self.call_name(id);
            let digest = fnv1a(fnv1a(FNV_OFFSET, s.as_bytes()) ^ 0xff, o.as_bytes());
            self.call_digests.push(digest);
        }
        id
    }

    /// The process-independent digest of a call's names.
    fn call_digest(&self, call: CallId) -> u64 {
        self.call_digests.get(call as usize).copied().unwrap_or(0)
    }

    /// The id of call `service/operation`, interning it if new.
    pub fn call(&mut self, service: &str, operation: &str) -> CallId {
        let sid = self.service(service);
        self.call_of(sid, operation)
    }

    /// The id of a sequence, interning it if new.
    #[inline]
    pub fn sequence(&mut self, calls: &[CallId]) -> SeqId {
        let hash = self.build.hash_one(calls);
        self.seqs.intern(hash, |k| **k == *calls, || calls.into())
    }

    /// The id of a sequence if already known.
    pub fn find(&self, calls: &[CallId]) -> Option<SeqId> {
        self.seqs.find(self.build.hash_one(calls), |k| **k == *calls)
    }

    /// Number of sequences (permanent and transient).
    pub fn len(&self) -> usize {
        self.seqs.keys.len()
    }

    /// Whether there are no sequences.
    pub fn is_empty(&self) -> bool {
        self.seqs.keys.is_empty()
    }

    /// Number of permanent sequences.
    pub fn permanent_len(&self) -> usize {
        self.seqs.frozen
    }

    /// Makes everything interned so far permanent.
    pub fn freeze(&mut self) {
        self.services.freeze();
        self.calls.freeze();
        self.seqs.freeze();
    }

    /// Forgets transient services, calls and sequences.
    pub fn clear_transient(&mut self) {
        self.seqs.clear_transient();
        self.calls.clear_transient();
        self.call_digests.truncate(self.calls.keys.len());
        self.services.clear_transient();
    }

    /// The calls of a sequence.
    pub fn calls_of(&self, seq: SeqId) -> &[CallId] {
        self.seqs.keys.get(seq as usize).map(|c| &c[..]).unwrap_or(&[])
    }

    /// `(service, operation)` of a call.
    pub fn call_name(&self, call: CallId) -> (&str, &str) {
        self.calls
            .keys
            .get(call as usize)
            .map(|(s, _, o)| (self.services.keys.get(*s as usize).map_or("?", |n| &**n), &**o))
            .unwrap_or(("?", "?"))
    }

    /// All calls, in id order.
    pub fn call_names(&self) -> impl Iterator<Item = (&str, &str)> {
        (0..self.calls.keys.len() as CallId).map(|c| self.call_name(c))
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

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a: a digest that is the same in every process and every build (call names are few and short).
fn fnv1a(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Folds a child's subtree digest into its parent's.
fn fold_digest(h: u64, child: u64) -> u64 {
    (h.rotate_left(23) ^ child).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The end of a span as a point in time no earlier than its start (an unfinished span has no end).
fn end_of(r: &SpanRecord) -> u64 {
    r.end_time_unix_nano().max(r.start_time_unix_nano())
}

/// Rule 3: start time, then service, then name, then span id.
fn sibling_order(a: &SpanRecord, b: &SpanRecord) -> std::cmp::Ordering {
    a.start_time_unix_nano()
        .cmp(&b.start_time_unix_nano())
        .then_with(|| a.service().cmp(b.service()))
        .then_with(|| a.name().cmp(b.name()))
        .then_with(|| a.span_id().cmp(b.span_id()))
}

/// Extracts call sequences, reusing its buffers across traces (no allocation per trace once warm).
#[derive(Default, Clone)]
pub struct SequenceExtractor {
    services: Vec<(usize, ServiceId)>,
    ids: Vec<(u64, u32)>,
    parent: Vec<u32>,
    /// Span indices grouped by parent (roots first): a counting sort, children of `p` at
    /// `order[start[p + 1]..start[p + 2]]`.
    order: Vec<u32>,
    start: Vec<u32>,
    next: Vec<u32>,
    visited: Vec<bool>,
    duplicate: Vec<bool>,
    stack: Vec<u32>,
    calls: Vec<CallId>,
    span_calls: Vec<CallId>,
    /// [`Siblings::Concurrent`]: spans parents first, and each span's subtree digest.
    levels: Vec<u32>,
    digests: Vec<u64>,
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
        self.services.clear();
        for (i, r) in spans.iter().enumerate() {
            // The spans of one resource share its service name: intern it once per trace.
            let key = std::sync::Arc::as_ptr(&r.resource) as usize;
            let sid = match self.services.iter().find(|(k, _)| *k == key) {
                Some((_, sid)) => *sid,
                None => {
                    let sid = vocab.service(r.service());
                    self.services.push((key, sid));
                    sid
                }
            };
            self.span_calls.push(vocab.call_hashed(sid, r.name_hash(), || r.name()));
            if let Some(id) = id64(r.span_id()) {
                self.ids.push((id, i as u32));
            }
        }
        // The first span of a duplicated id is the parent target: a linear scan finds the first; for larger
        // traces, sorting by (id, index) puts it first.
        let small = n <= 32;
        self.duplicate.clear();
        self.duplicate.resize(n, false);
        if small {
            for (k, (id, i)) in self.ids.iter().enumerate() {
                if self.ids[..k].iter().any(|(other, _)| other == id) {
                    self.duplicate[*i as usize] = true;
                }
            }
        } else {
            self.ids.sort_unstable();
            for w in self.ids.windows(2) {
                if w[0].0 == w[1].0 {
                    self.duplicate[w[1].1 as usize] = true;
                }
            }
        }
        self.parent.clear();
        for r in spans.iter() {
            let own = id64(r.span_id());
            let p = match id64(r.parent_span_id()) {
                Some(pid) if Some(pid) != own => {
                    let found = if small {
                        self.ids.iter().find(|(id, _)| *id == pid)
                    } else {
                        let at = self.ids.partition_point(|(id, _)| *id < pid);
                        self.ids.get(at).filter(|(id, _)| *id == pid)
                    };
                    found.map_or(NONE, |(_, idx)| *idx)
                }
                _ => NONE,
            };
            self.parent.push(p);
        }
        // Counting sort by parent: bucket 0 holds the roots, bucket p + 1 the children of p.
        self.start.clear();
        self.start.resize(n + 2, 0);
        for p in &self.parent {
            let b = if *p == NONE { 0 } else { *p as usize + 1 };
            self.start[b + 1] += 1;
        }
        for b in 1..self.start.len() {
            self.start[b] += self.start[b - 1];
        }
        self.order.clear();
        self.order.resize(n, 0);
        self.next.clear();
        self.next.extend_from_slice(&self.start[..n + 1]);
        for (i, p) in self.parent.iter().enumerate() {
            let b = if *p == NONE { 0 } else { *p as usize + 1 };
            self.order[self.next[b] as usize] = i as u32;
            self.next[b] += 1;
        }
        for b in 0..=n {
            let (lo, hi) = (self.start[b] as usize, self.start[b + 1] as usize);
            if hi - lo > 1 {
                self.order[lo..hi]
                    .sort_unstable_by(|a, b| sibling_order(&spans[*a as usize], &spans[*b as usize]).then(a.cmp(b)));
            }
        }
        if vocab.siblings() == Siblings::Concurrent {
            self.order_concurrent(spans, vocab);
        }
        self.visited.clear();
        self.visited.extend_from_slice(&self.duplicate);
        let calls = n - self.duplicate.iter().filter(|d| **d).count();
        self.calls.clear();
        for k in self.start[0]..self.start[1] {
            let root = self.order[k as usize];
            self.walk(root);
        }
        if self.calls.len() < calls {
            // Cycles: walk what is left as roots, ordered as siblings are.
            let mut left: Vec<u32> = (0..n as u32).filter(|i| !self.visited[*i as usize]).collect();
            left.sort_by(|a, b| sibling_order(&spans[*a as usize], &spans[*b as usize]).then(a.cmp(b)));
            for i in left {
                self.walk(i);
            }
        }
        &self.calls
    }

    /// Rule 3 for [`Siblings::Concurrent`], on buckets already in time order: children before parents (the
    /// reverse of a breadth-first order from the roots), each span's concurrent groups of children are put in
    /// their fixed order, then its subtree digest is folded from its call and its children's digests in that
    /// order. Spans no root reaches (cycles) keep time order.
    fn order_concurrent(&mut self, spans: &[SpanRecord], vocab: &Vocabulary) {
        let n = spans.len();
        self.digests.clear();
        self.digests.resize(n, 0);
        self.levels.clear();
        self.levels.extend(
            self.order[self.start[0] as usize..self.start[1] as usize]
                .iter()
                .copied(),
        );
        let mut at = 0;
        while at < self.levels.len() {
            let i = self.levels[at] as usize;
            at += 1;
            if !self.duplicate[i] {
                let (lo, hi) = (self.start[i + 1] as usize, self.start[i + 2] as usize);
                self.levels.extend_from_slice(&self.order[lo..hi]);
            }
        }
        for k in (0..self.levels.len()).rev() {
            let i = self.levels[k] as usize;
            let (lo, hi) = (self.start[i + 1] as usize, self.start[i + 2] as usize);
            order_groups(&mut self.order[lo..hi], spans, &self.span_calls, &self.digests, vocab);
            let mut h = vocab.call_digest(self.span_calls[i]);
            for c in &self.order[lo..hi] {
                if !self.duplicate[*c as usize] {
                    h = fold_digest(h, self.digests[*c as usize]);
                }
            }
            self.digests[i] = h;
        }
        let (lo, hi) = (self.start[0] as usize, self.start[1] as usize);
        order_groups(&mut self.order[lo..hi], spans, &self.span_calls, &self.digests, vocab);
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
            let (lo, hi) = (self.start[i as usize + 1] as usize, self.start[i as usize + 2] as usize);
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

/// Puts each concurrent group of `siblings` (in time order) in its fixed order: by the digest of the call's
/// names, then of its subtree (names only where two digests collide). A group runs while each next sibling
/// starts before every earlier one of it has ended.
fn order_groups(siblings: &mut [u32], spans: &[SpanRecord], calls: &[CallId], digests: &[u64], vocab: &Vocabulary) {
    let mut lo = 0;
    while lo < siblings.len() {
        let mut end = end_of(&spans[siblings[lo] as usize]);
        let mut hi = lo + 1;
        while hi < siblings.len() && spans[siblings[hi] as usize].start_time_unix_nano() < end {
            end = end.max(end_of(&spans[siblings[hi] as usize]));
            hi += 1;
        }
        if hi - lo > 1 {
            siblings[lo..hi].sort_unstable_by(|a, b| {
                let (a, b) = (*a as usize, *b as usize);
                let key = |i: usize| (vocab.call_digest(calls[i]), digests[i]);
                key(a)
                    .cmp(&key(b))
                    .then_with(|| vocab.call_name(calls[a]).cmp(&vocab.call_name(calls[b])))
                    .then(a.cmp(&b))
            });
        }
        lo = hi;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{ResourceCtx, ScopeCtx};
    use opentelemetry_proto::tonic::trace::v1::Span;
    use std::sync::Arc;

    /// A span with a start and no end.
    fn span(service: &str, name: &str, id: u8, parent: u8, start: u64) -> SpanRecord {
        run(service, name, id, parent, start, 0)
    }

    fn text(spans: Vec<SpanRecord>) -> String {
        text_in(&mut Vocabulary::new(), spans)
    }

    fn text_in(v: &mut Vocabulary, spans: Vec<SpanRecord>) -> String {
        let mut x = SequenceExtractor::new();
        let t = Trace { id: [1; 16], spans };
        let s = x.sequence(&t, v);
        v.text(s)
    }

    /// A span running from `start` to `end`.
    fn run(service: &str, name: &str, id: u8, parent: u8, start: u64, end: u64) -> SpanRecord {
        SpanRecord::from_span(
            Arc::new(ResourceCtx::for_service(service)),
            Arc::new(ScopeCtx::default()),
            &Span {
                trace_id: vec![1; 16],
                span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
                parent_span_id: if parent == 0 {
                    Vec::new()
                } else {
                    vec![0, 0, 0, 0, 0, 0, 0, parent]
                },
                name: name.into(),
                start_time_unix_nano: start,
                end_time_unix_nano: end,
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn concurrent(spans: Vec<SpanRecord>) -> String {
        text_in(&mut Vocabulary::with_siblings(Siblings::Concurrent), spans)
    }

    /// A post whose three uploads run in parallel, started in the order `order`, the media upload calling the
    /// store; then, once all three are done, the timeline write.
    fn fan_out(order: [u8; 3]) -> Vec<SpanRecord> {
        let mut spans = vec![run("nginx", "compose", 1, 0, 0, 100)];
        for (rank, which) in order.iter().enumerate() {
            let start = 10 + rank as u64;
            spans.push(match which {
                0 => run("text", "upload", 2, 1, start, 40),
                1 => run("user", "upload", 3, 1, start, 45),
                _ => run("media", "upload", 4, 1, start, 50),
            });
        }
        spans.push(run("mongo", "store", 5, 4, 20, 30));
        spans.push(run("timeline", "write", 6, 1, 60, 70));
        spans
    }

    #[test]
    fn concurrent_calls_are_one_sequence_whatever_started_first() {
        let orders = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]];
        let time: std::collections::BTreeSet<String> = orders.iter().map(|o| text(fan_out(*o))).collect();
        assert_eq!(time.len(), orders.len(), "time order: one sequence per start order");
        let fixed: std::collections::BTreeSet<String> = orders.iter().map(|o| concurrent(fan_out(*o))).collect();
        assert_eq!(fixed.len(), 1, "concurrent calls in a fixed order: {fixed:?}");
        let seq = fixed.into_iter().next().unwrap_or_default();
        assert!(seq.starts_with("nginx/compose -> "), "{seq}");
        assert!(
            seq.contains("media/upload -> mongo/store"),
            "subtrees kept together: {seq}"
        );
        assert!(
            seq.ends_with(" -> timeline/write"),
            "the call after the group stays after it: {seq}"
        );
    }

    #[test]
    fn calls_that_follow_each_other_keep_their_order() {
        // `b` starts after `a` has ended: a real order, not the scheduler's, although `a` sorts after `b`.
        let seq = vec![
            run("gw", "r", 1, 0, 0, 100),
            run("y", "a", 2, 1, 10, 20),
            run("x", "b", 3, 1, 20, 30),
        ];
        assert_eq!(concurrent(seq), "gw/r -> y/a -> x/b");
        let reversed = vec![
            run("gw", "r", 1, 0, 0, 100),
            run("x", "b", 3, 1, 10, 20),
            run("y", "a", 2, 1, 20, 30),
        ];
        assert_eq!(concurrent(reversed), "gw/r -> x/b -> y/a");
        // Overlapping, they are one group: either start order gives the same sequence.
        let overlapping = |a_first: bool| {
            let (ta, tb) = if a_first { (10, 20) } else { (20, 10) };
            vec![
                run("gw", "r", 1, 0, 0, 100),
                run("y", "a", 2, 1, ta, ta + 15),
                run("x", "b", 3, 1, tb, tb + 15),
            ]
        };
        assert_ne!(text(overlapping(true)), text(overlapping(false)));
        assert_eq!(concurrent(overlapping(true)), concurrent(overlapping(false)));
    }

    #[test]
    fn concurrent_calls_of_one_operation_are_ordered_by_what_they_call() {
        // Two parallel product lookups, one of which misses the cache: which started first does not matter.
        let lookups = |miss_first: bool| {
            let (hit, miss) = if miss_first { (3, 2) } else { (2, 3) };
            vec![
                run("gw", "cart", 1, 0, 0, 100),
                run("catalog", "get", 2, 1, 10, 50),
                run("catalog", "get", 3, 1, 11, 50),
                run("db", "query", 4, miss, 20, 30),
                run("cache", "get", 5, hit, 15, 16),
            ]
        };
        assert_ne!(text(lookups(true)), text(lookups(false)));
        assert_eq!(concurrent(lookups(true)), concurrent(lookups(false)));
    }

    #[test]
    fn the_fixed_order_does_not_depend_on_the_vocabulary() {
        // Calls interned in another order (another process, a rebuilt vocabulary) give the same sequence.
        let mut other = Vocabulary::with_siblings(Siblings::Concurrent);
        for (s, o) in [
            ("user", "upload"),
            ("timeline", "write"),
            ("text", "upload"),
            ("mongo", "store"),
        ] {
            other.call(s, o);
        }
        assert_eq!(text_in(&mut other, fan_out([1, 0, 2])), concurrent(fan_out([0, 1, 2])));
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
    fn a_span_delivered_twice_is_one_call() {
        let once = vec![
            span("gw", "r", 1, 0, 0),
            span("x", "a", 2, 1, 5),
            span("y", "b", 3, 2, 6),
        ];
        let mut twice = once.clone();
        twice.push(span("x", "a", 2, 1, 5));
        twice.insert(0, span("y", "b", 3, 2, 6));
        assert_eq!(text(twice), text(once));
        // Past the linear scan's size too.
        let mut many: Vec<SpanRecord> = (2..40).map(|i| span("x", "c", i, 1, u64::from(i))).collect();
        many.push(span("gw", "r", 1, 0, 0));
        let expect = text(many.clone());
        many.extend((2..40).map(|i| span("x", "c", i, 1, u64::from(i))));
        assert_eq!(text(many), expect);
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
