//! The demo's live table: one row per scored window, anomalous rows highlighted, and what the demo knew about
//! the window (its ground truth) beside what spanguard said.

use std::io::IsTerminal;

use spanguard_processor::{frequency, graph, ScoreReport, WindowReport};

/// How a window's verdict compares with the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Normal and not flagged.
    Quiet,
    /// An attack, flagged.
    Caught,
    /// An attack, not flagged.
    Missed,
    /// Normal, flagged.
    FalseAlarm,
}

impl Outcome {
    /// From the truth and the verdict.
    pub fn of(attack: bool, flagged: bool) -> Self {
        match (attack, flagged) {
            (false, false) => Outcome::Quiet,
            (true, true) => Outcome::Caught,
            (true, false) => Outcome::Missed,
            (false, true) => Outcome::FalseAlarm,
        }
    }
}

/// Renders rows; colours only on a terminal, and never with `NO_COLOR` set.
pub struct Table {
    color: bool,
}

impl Table {
    /// A table for stdout.
    pub fn new(no_color: bool) -> Self {
        Self {
            color: !no_color && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// The header.
    pub fn header(&self) -> String {
        format!(
            "{:>4}  {:<20} {:<30} {:>6}  {:>17}  {:>15}  {:<18} {}",
            "step",
            "window",
            "what the demo sent",
            "traces",
            "frequency / thr",
            "graph / thr",
            "spanguard says",
            "truth"
        )
    }

    /// One window's row.
    pub fn row(&self, step: usize, phase: &str, r: &WindowReport, outcome: Outcome) -> String {
        let cell = |d: Option<&ScoreReport>, decimals: usize| match d {
            Some(s) if s.score.is_finite() => {
                let mark = if s.anomalous { "▲" } else { " " };
                format!("{:.*} / {:.*}{mark}", decimals, s.score, decimals, s.threshold)
            }
            _ => "-".to_owned(),
        };
        let by = |name: &str| r.scores.iter().find(|s| s.detector == name);
        let fired: Vec<&str> = r.scores.iter().filter(|s| s.anomalous).map(|s| s.detector).collect();
        let verdict = if fired.is_empty() {
            "ok".to_owned()
        } else {
            format!("ALARM ({})", fired.join("+"))
        };
        let truth = match outcome {
            Outcome::Quiet => "normal",
            Outcome::Caught => "attack: caught",
            Outcome::Missed => "attack: MISSED",
            Outcome::FalseAlarm => "normal: FALSE ALARM",
        };
        let line = format!(
            "{:>4}  {:<20} {:<30} {:>6}  {:>17}  {:>15}  {:<18} {}",
            step,
            r.id,
            phase,
            r.traces,
            cell(by(frequency::NAME), 4),
            cell(by(graph::detector::NAME), 2),
            verdict,
            truth
        );
        match (self.color, outcome) {
            (true, Outcome::Caught) => format!("\x1b[1;31m{line}\x1b[0m"),
            (true, Outcome::FalseAlarm | Outcome::Missed) => format!("\x1b[1;33m{line}\x1b[0m"),
            _ => line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(freq: (f64, bool), graph: (f64, bool)) -> WindowReport {
        let s = |detector, (score, anomalous): (f64, bool), threshold| ScoreReport {
            detector,
            anomalous,
            score,
            threshold,
            top: Vec::new(),
        };
        WindowReport {
            id: "abcd-3".into(),
            seq: 3,
            traces: 50,
            spans: 400,
            partial: false,
            start_ns: 0,
            end_ns: 1,
            detected: freq.1 || graph.1,
            scores: vec![s(frequency::NAME, freq, 0.2), s(graph::detector::NAME, graph, 2.0)],
        }
    }

    #[test]
    fn a_row_shows_both_scores_the_verdict_and_the_truth() {
        let t = Table { color: false };
        let row = t.row(
            9,
            "password guessing",
            &report((0.4567, true), (0.9, false)),
            Outcome::Caught,
        );
        assert!(row.contains("0.4567 / 0.2000▲"), "{row}");
        assert!(row.contains("0.90 / 2.00 "), "{row}");
        assert!(row.contains("ALARM (frequency)"), "{row}");
        assert!(row.ends_with("attack: caught"), "{row}");
        let quiet = t.row(1, "normal", &report((0.1, false), (f64::NAN, false)), Outcome::Quiet);
        assert!(quiet.contains(" ok "), "{quiet}");
        assert!(quiet.contains(" - "), "no graph score yet shows as -: {quiet}");
    }

    #[test]
    fn outcomes() {
        assert_eq!(Outcome::of(true, false), Outcome::Missed);
        assert_eq!(Outcome::of(false, true), Outcome::FalseAlarm);
    }
}
