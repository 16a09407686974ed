//! What `spanguard demo` plays (and `loadgen` and the bench borrow from): a timeline of one-second steps, each one window of traces (the social network of the
//! frequency paper) and one interval of data exchanges (the LTE core of DistAppGuard), with the ground truth of
//! every step. Deterministic for a seed.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use spanguard_exchange::ExchangeEvent;

use super::lte::{self, Scenario};
use super::rng::Rng;
use super::socialnet::{Kind, SocialNetwork};

/// One second of simulated time per step: one graph interval, one window of traces.
pub const STEP_NS: u64 = 1_000_000_000;
/// Traces per step (the paper's window of 50).
pub const TRACES_PER_STEP: usize = 50;
/// Spacing of trace starts inside a step, so that every trace of a step ends inside it.
const TRACE_SPACING_NS: u64 = 15_000_000;

/// What the traces of a step are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    /// The normal mix: composePost, successful and failed logins in the training proportions.
    Normal,
    /// A password-guessing burst (the paper's Table 2 window: 30 composePost, 7 correct and 13 failed logins).
    PasswordGuessing,
}

/// One step of the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The traces.
    pub traffic: Traffic,
    /// The data exchanges.
    pub exchanges: Scenario,
}

impl Step {
    /// Whether anything in this step is an attack.
    pub fn is_attack(&self) -> bool {
        self.traffic == Traffic::PasswordGuessing || self.exchanges.is_attack()
    }

    /// The phase name shown in the table.
    pub fn label(&self) -> &'static str {
        match (self.traffic, self.exchanges.is_attack()) {
            (Traffic::PasswordGuessing, _) => "password guessing",
            (_, true) => "rogue SGW (user plane hijack)",
            _ => "normal",
        }
    }
}

/// The demo's timeline: normal, a password-guessing burst, normal, a user-plane hijack, normal.
pub fn timeline() -> Vec<Step> {
    let normal = Step {
        traffic: Traffic::Normal,
        exchanges: Scenario::Normal,
    };
    let guessing = Step {
        traffic: Traffic::PasswordGuessing,
        exchanges: Scenario::Normal,
    };
    let hijack = Step {
        traffic: Traffic::Normal,
        exchanges: Scenario::SgwHijack,
    };
    let mut steps = Vec::new();
    steps.extend(std::iter::repeat_n(normal, 8));
    steps.extend(std::iter::repeat_n(guessing, 2));
    steps.extend(std::iter::repeat_n(normal, 6));
    steps.extend(std::iter::repeat_n(hijack, 3));
    steps.extend(std::iter::repeat_n(normal, 5));
    steps
}

/// The normal mix of the paper's Table 1 (1526 composePost, 420 correct and 54 failed logins), drawn per trace so
/// that windows vary as real traffic does.
pub fn normal_kind(rng: &mut Rng) -> Kind {
    let u = rng.unit() * 2000.0;
    if u < 1526.0 {
        Kind::ComposePost
    } else if u < 1946.0 {
        Kind::CorrectLogin
    } else {
        Kind::IncorrectLogin
    }
}

/// The kinds of one step's traces.
fn kinds(traffic: Traffic, rng: &mut Rng) -> Vec<Kind> {
    match traffic {
        Traffic::Normal => (0..TRACES_PER_STEP).map(|_| normal_kind(rng)).collect(),
        Traffic::PasswordGuessing => password_guessing_kinds(rng),
    }
}

/// A password-guessing window: the paper's Table 2 mix (30 composePost, 7 correct and 13 failed logins), shuffled.
pub fn password_guessing_kinds(rng: &mut Rng) -> Vec<Kind> {
    let mut k: Vec<Kind> = std::iter::repeat_n(Kind::ComposePost, 30)
        .chain(std::iter::repeat_n(Kind::CorrectLogin, 7))
        .chain(std::iter::repeat_n(Kind::IncorrectLogin, 13))
        .collect();
    rng.shuffle(&mut k);
    k
}

/// `n` traces of normal traffic starting at `t0`, as requests (training and validation data).
pub fn normal_traces(n: usize, t0: u64, rng: &mut Rng) -> Vec<ExportTraceServiceRequest> {
    let g = SocialNetwork::default();
    (0..n)
        .map(|i| {
            let kind = normal_kind(rng);
            g.trace(kind, rng, t0 + i as u64 * TRACE_SPACING_NS).build(rng)
        })
        .collect()
}

/// The traces of step `index` of a timeline starting at `t0`.
pub fn step_traces(step: &Step, index: usize, t0: u64, rng: &mut Rng) -> Vec<ExportTraceServiceRequest> {
    let g = SocialNetwork::default();
    let start = t0 + index as u64 * STEP_NS;
    kinds(step.traffic, rng)
        .into_iter()
        .enumerate()
        .map(|(i, kind)| g.trace(kind, rng, start + i as u64 * TRACE_SPACING_NS).build(rng))
        .collect()
}

/// The exchange events of every step of `steps` from `t0`, by step: consecutive steps of one scenario are
/// generated together, as one deployment running on.
pub fn step_events(steps: &[Step], t0: u64, seed: u64) -> Vec<Vec<ExchangeEvent>> {
    let mut out: Vec<Vec<ExchangeEvent>> = vec![Vec::new(); steps.len()];
    let mut i = 0;
    while i < steps.len() {
        let scenario = steps[i].exchanges;
        let run = steps[i..].iter().take_while(|s| s.exchanges == scenario).count();
        let start = t0 + i as u64 * STEP_NS;
        for e in lte::events(scenario, start, run, STEP_NS, seed.wrapping_add(i as u64 * 7919)) {
            let k = ((e.ts.saturating_sub(t0)) / STEP_NS) as usize;
            if let Some(bucket) = out.get_mut(k.min(steps.len() - 1)) {
                bucket.push(e);
            }
        }
        i += run;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_trace_of_a_step_ends_inside_it() {
        let mut rng = Rng::new(3);
        let t0 = 1_000 * STEP_NS;
        for (i, step) in timeline().iter().enumerate() {
            let traces = step_traces(step, i, t0, &mut rng);
            assert_eq!(traces.len(), TRACES_PER_STEP);
            for span in traces
                .iter()
                .flat_map(|r| &r.resource_spans)
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
            {
                assert!(span.start_time_unix_nano >= t0 + i as u64 * STEP_NS);
                assert!(span.end_time_unix_nano < t0 + (i as u64 + 1) * STEP_NS);
            }
        }
    }

    #[test]
    fn events_fall_in_their_step() {
        let steps = timeline();
        let t0 = 1_000 * STEP_NS;
        let by_step = step_events(&steps, t0, 1);
        for (i, events) in by_step.iter().enumerate() {
            assert!(!events.is_empty(), "step {i} has exchanges");
            assert!(events
                .iter()
                .all(|e| e.ts >= t0 + i as u64 * STEP_NS && e.ts < t0 + (i as u64 + 1) * STEP_NS));
        }
    }

    #[test]
    fn the_timeline_has_both_attacks_between_normal_stretches() {
        let steps = timeline();
        assert!(!steps[0].is_attack() && !steps[steps.len() - 1].is_attack());
        assert!(steps.iter().any(|s| s.traffic == Traffic::PasswordGuessing));
        assert!(steps.iter().any(|s| s.exchanges.is_attack()));
    }
}
