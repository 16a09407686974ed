//! Where a never-seen call path leaves the known ones: the explanation that goes with a novel sequence.
//!
//! The nearest known sequence is the one sharing the longest common prefix plus common suffix with it (a path
//! with one call added or removed shares everything else); the difference is what lies between. Computed only
//! for sequences that are evidence in a flagged window, over at most [`MAX_CANDIDATES`] known sequences, so its
//! O(candidates × length) cost never reaches the per-trace path.

use super::sequence::{CallId, SeqId, Vocabulary};

/// Known sequences compared, at most (the most frequent first is the caller's order).
pub const MAX_CANDIDATES: usize = 20_000;
/// Calls named in a difference before it is cut short.
const NAMED: usize = 3;

/// How a novel sequence differs from its nearest known one.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// The nearest known sequence.
    pub nearest: SeqId,
    /// Index (from 0) of the first call that differs.
    pub at: usize,
    /// For people: `after frontend/Recv.: adds frontend/PaymentService/Charge`.
    pub text: String,
}

/// Explains `novel` against `known` (candidate sequence ids); `None` without candidates.
pub fn explain(vocab: &Vocabulary, novel: SeqId, known: impl IntoIterator<Item = SeqId>) -> Option<Divergence> {
    let a = vocab.calls_of(novel);
    let mut best: Option<(usize, usize, SeqId)> = None;
    for seq in known.into_iter().take(MAX_CANDIDATES) {
        if seq == novel {
            continue;
        }
        let b = vocab.calls_of(seq);
        let (p, s) = shared(a, b);
        if best.is_none_or(|(bp, bs, _)| p + s > bp + bs) {
            best = Some((p, s, seq));
        }
    }
    let (p, s, nearest) = best?;
    let b = vocab.calls_of(nearest);
    let added = &a[p..a.len() - s];
    let missing = &b[p..b.len() - s];
    let names = |calls: &[CallId]| {
        let mut out: Vec<String> = calls
            .iter()
            .take(NAMED)
            .map(|c| {
                let (svc, op) = vocab.call_name(*c);
                format!("{svc}/{op}")
            })
            .collect();
        if calls.len() > NAMED {
            out.push(format!("… ({} calls)", calls.len()));
        }
        out.join(" -> ")
    };
    let change = match (added.is_empty(), missing.is_empty()) {
        (false, true) => format!("adds {}", names(added)),
        (true, false) => format!("lacks {}", names(missing)),
        _ => format!("has {} where the known path has {}", names(added), names(missing)),
    };
    let place = match p.checked_sub(1).and_then(|i| a.get(i)) {
        Some(c) => {
            let (svc, op) = vocab.call_name(*c);
            format!("after {svc}/{op} (call {p})")
        }
        None => "at its first call".to_owned(),
    };
    Some(Divergence {
        nearest,
        at: p,
        text: format!("{place}: {change}"),
    })
}

/// Lengths of the common prefix and of the common suffix of `a` and `b`, not overlapping in either.
fn shared(a: &[CallId], b: &[CallId]) -> (usize, usize) {
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let room = a.len().min(b.len()) - p;
    let s = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    (p, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(v: &mut Vocabulary, calls: &[&str]) -> SeqId {
        let ids: Vec<CallId> = calls.iter().map(|c| v.call("svc", c)).collect();
        v.sequence(&ids)
    }

    #[test]
    fn names_an_added_a_missing_and_a_replaced_call() {
        let mut v = Vocabulary::new();
        let known = seq(&mut v, &["recv", "checkout", "charge", "ship"]);
        let other = seq(&mut v, &["recv", "list"]);
        let skipped = seq(&mut v, &["recv", "charge", "ship"]);
        let d = explain(&v, skipped, [other, known]).unwrap();
        assert_eq!((d.nearest, d.at), (known, 1));
        assert_eq!(d.text, "after svc/recv (call 1): lacks svc/checkout");
        let added = seq(&mut v, &["recv", "checkout", "charge", "refund", "ship"]);
        assert_eq!(
            explain(&v, added, [known]).unwrap().text,
            "after svc/charge (call 3): adds svc/refund"
        );
        let replaced = seq(&mut v, &["login", "checkout", "charge", "ship"]);
        assert_eq!(
            explain(&v, replaced, [known]).unwrap().text,
            "at its first call: has svc/login where the known path has svc/recv"
        );
        assert_eq!(explain(&v, known, std::iter::empty()), None);
    }
}
