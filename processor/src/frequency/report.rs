//! The frequency detector's results for people: the `score`, `eval` and `inspect` tables and the one-line
//! model summary `train` prints. JSON output is the results' own `Serialize`; these are the aligned columns.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use serde_json::{json, Value};

use super::baseline::Statistic;
use super::eval::StreamResult;
use super::holdout::EvalResult;
use super::model::{FrequencyModel, Method};
use super::sequence::Siblings;
use super::windows::WindowLine;
use super::FrequencyVerdict;
use crate::detector::shorten;

/// A window's verdict in one word, for tables: alarms in capitals.
pub fn verdict_word(v: &FrequencyVerdict) -> &'static str {
    if v.novel {
        "NOVEL"
    } else if v.anomalous {
        "ANOMALY"
    } else if v.sustained {
        "SUSTAINED"
    } else if v.rebaselined {
        "new mix"
    } else if v.returned {
        "known mix"
    } else if v.shift {
        "shift"
    } else {
        "normal"
    }
}

/// The statistic, for people.
fn statistic_name(s: Statistic) -> String {
    match s {
        Statistic::Euclidean => "euclidean (paper eq. 3)".to_owned(),
        Statistic::Chi { min_frequency } => format!("chi (rare sequences pooled below {min_frequency})"),
    }
}

/// What `train frequency` learned, in one line: the vocabulary, the validation windows and the rule they set.
pub fn summary(m: &FrequencyModel) -> String {
    let v = &m.validation;
    let learned = format!(
        "{} training traces, {} distinct sequences; {} validation windows of {}",
        m.training.traces, m.training.unique_sequences, v.windows, m.window
    );
    match m.method {
        Method::Threshold => format!(
            "{learned}: mean {:.4}, σ {:.4}, threshold {:.4} (k = {}); statistic {}, adaptation α {} / confirm within {}",
            v.mean,
            v.std,
            v.threshold,
            m.k,
            statistic_name(m.statistic),
            m.adaptation.alpha,
            m.adaptation.confirm_within
        ),
        Method::Evidence => {
            let e = &m.evidence;
            format!(
                "{learned}: measured scatter φ {:.2}, κ {:.3} (1 = multinomial); evidence method at level {} per window, reference step {}, regime change confirmed after {} windows",
                e.dispersion.phi, e.dispersion.kappa, e.alpha, e.adapt, e.confirm_windows
            )
        }
    }
}

/// `score frequency --format table`: one row per window, the verdict's reason in words, a summary line.
pub fn write_windows(out: &mut impl Write, lines: &[WindowLine]) -> io::Result<()> {
    writeln!(
        out,
        "{:>6} {:>6} {:>9} {:>9} {:>8} {:>6} {:>7}  {:<9} why (observed vs expected)",
        "window", "traces", "distance", "threshold", "evidence", "level", "cusum", "verdict"
    )?;
    let (mut flagged, mut sustained, mut accepted) = (0, 0, 0);
    for l in lines {
        let Some(v) = &l.verdict else {
            writeln!(
                out,
                "{:>6} {:>6} {:>9} {:>9} {:>8} {:>6} {:>7}  {:<9} a partial window of {} traces: too few to judge",
                l.window, l.traces, "-", "-", "-", "-", "-", "-", l.traces
            )?;
            continue;
        };
        flagged += usize::from(v.anomalous || v.sustained);
        sustained += usize::from(v.sustained);
        accepted += usize::from(v.rebaselined);
        let why = match (v.novel_paths.first(), v.top.first()) {
            (Some(p), _) => format!("never-seen path ×{}, {}", p.count, p.divergence),
            (None, Some(t)) => match (t.count, t.expected) {
                (Some(c), Some(e)) => format!("{c} vs {e:.1}: {}", shorten(&t.sequence, 90)),
                _ => format!("{:.3} vs {:.3}: {}", t.observed, t.baseline, shorten(&t.sequence, 90)),
            },
            _ => String::new(),
        };
        let num = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{x:.2}"));
        writeln!(
            out,
            "{:>6} {:>6} {:>9.4} {:>9.4} {:>8} {:>6} {:>7.2}  {:<9} {}",
            l.window,
            l.traces,
            v.distance,
            v.threshold,
            num(v.evidence),
            num(v.level),
            v.cusum,
            verdict_word(v),
            why
        )?;
    }
    let judged = lines.iter().filter(|l| l.verdict.is_some()).count();
    writeln!(
        out,
        "{flagged} of {judged} windows flagged ({sustained} sustained); {accepted} regime change(s) accepted{}",
        if judged < lines.len() {
            "; the last, partial window was too small to judge"
        } else {
            ""
        }
    )
}

/// `eval frequency --format table` (hold-out): one row per (window, k) setting.
pub fn write_holdout(out: &mut impl Write, results: &[EvalResult]) -> io::Result<()> {
    let never = |x: Option<usize>| x.map_or("never".to_owned(), |v| v.to_string());
    let pct = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{:.1} %", 100.0 * v));
    writeln!(
        out,
        "                    single-window test                 CUSUM (sustained)                 burst"
    )?;
    writeln!(
        out,
        "window     k   false alarms  detected  to detect   false alarms  detected  to detect   detected  rebaselined"
    )?;
    for r in results {
        let has_attack = r.attack_windows > 0;
        let to_detect = |x: Option<usize>| if has_attack { never(x) } else { "-".into() };
        writeln!(
            out,
            "{:>6} {:>5}   {:>6.1} %  {:>8}  {:>9}   {:>6.1} %  {:>8}  {:>9}   {:>8}  {:>11}",
            r.window,
            r.k,
            100.0 * r.false_alarm_rate,
            pct(has_attack.then_some(r.detection_rate)),
            to_detect(r.windows_to_detection),
            100.0 * r.cusum_false_alarm_rate,
            pct(has_attack.then_some(r.cusum_detection_rate)),
            to_detect(r.cusum_windows_to_detection),
            pct(r.burst_detection_rate),
            r.rebaselined
        )?;
    }
    let Some(r) = results.first() else {
        return Ok(());
    };
    if let (Some(f), Some(s)) = (r.burst_fraction, &r.burst_sequence) {
        writeln!(
            out,
            "burst: {:.0} % of each window replaced by the sequence {}",
            100.0 * f,
            shorten(s, 160)
        )?;
    }
    write!(out, "({} normal test windows", r.normal_windows)?;
    if r.attack_windows > 0 {
        write!(
            out,
            ", {} attack windows; \"detected\" = attack windows flagged, \"to detect\" = the first one",
            r.attack_windows
        )?;
    }
    writeln!(out, "; window {})", r.window)
}

/// `eval frequency --stream --format table`: one row per (method, injection), labelled periods and explained
/// windows under their row. `(method, result)` pairs, in order.
pub fn write_stream(out: &mut impl Write, results: &[(String, StreamResult)]) -> io::Result<()> {
    let pct = |a: usize, b: usize| {
        if b == 0 {
            "-".to_owned()
        } else {
            format!("{:.1} %", 100.0 * a as f64 / b as f64)
        }
    };
    writeln!(
        out,
        "{:<13} {:<11} {:>20} {:>7} {:>10} {:>10} {:>14} {:>6} {:>8}",
        "method",
        "injection",
        "normal flagged",
        "bursts",
        "caught 1st",
        "within 2",
        "burst windows",
        "delay",
        "new mix"
    )?;
    for (name, r) in results {
        writeln!(
            out,
            "{:<13} {:<11} {:>20} {:>7} {:>10} {:>10} {:>14} {:>6} {:>8}",
            name,
            r.injection,
            format!(
                "{:.1} % ({}/{})",
                100.0 * r.false_alarm_rate,
                r.normal_flagged,
                r.normal_windows
            ),
            r.bursts,
            pct(r.caught_first, r.bursts),
            pct(r.caught_within_2, r.bursts),
            format!("{}/{}", r.burst_windows_flagged, r.burst_windows),
            r.mean_delay.map_or("-".to_owned(), |d| format!("{d:.2}")),
            r.rebaselined
        )?;
        for l in &r.labelled {
            writeln!(
                out,
                "{:<13}   labelled {:<20} {}/{} windows flagged",
                "", l.kind, l.flagged, l.windows
            )?;
        }
        for w in &r.explained {
            let v = &w.verdict;
            let why = v.top.first().map_or(String::new(), |t| match (t.count, t.expected) {
                (Some(c), Some(e)) => format!("{c} vs {e:.1}{}", if t.novel { " (never seen)" } else { "" }),
                _ => format!("{:.3} vs {:.3}", t.observed, t.baseline),
            });
            writeln!(
                out,
                "    {:>4} {:<10} {:<9} evidence {:>6.2} distance {:.3}/{:.3}  {}",
                w.window,
                w.truth,
                verdict_word(v),
                v.evidence.unwrap_or(f64::NAN),
                v.distance,
                v.threshold,
                why
            )?;
        }
    }
    Ok(())
}

/// `inspect` of a frequency model: its vocabulary, rule, drift settings and `top` most frequent sequences, as
/// a JSON object for tools and as text for people.
pub fn inspect(m: &FrequencyModel, path: &Path, top: usize) -> (Value, String) {
    let services: std::collections::BTreeSet<&str> = m.calls.iter().map(|c| c[0].as_str()).collect();
    let statistic = statistic_name(m.statistic);
    let mut by_freq: Vec<&_> = m.sequences.iter().collect();
    by_freq.sort_by(|a, b| b.frequency.total_cmp(&a.frequency));
    let render = |calls: &[u32]| {
        calls
            .iter()
            .map(|&c| {
                m.calls
                    .get(c as usize)
                    .map(|[s, o]| format!("{s}/{o}"))
                    .unwrap_or_else(|| "?".into())
            })
            .collect::<Vec<_>>()
            .join(" → ")
    };
    let shown: Vec<(f64, String)> = by_freq
        .iter()
        .take(top)
        .map(|s| (s.frequency, render(&s.calls)))
        .collect();
    let v = &m.validation;
    let json = json!({
        "path": path.display().to_string(),
        "format": m.format, "version": m.version,
        "window": m.window, "k": m.k, "statistic": statistic,
        "services": services.len(), "operations": m.calls.len(), "sequences": m.sequences.len(),
        "training_traces": m.training.traces, "validation_traces": m.training.validation_traces,
        "validation": { "windows": v.windows, "mean": v.mean, "std": v.std, "threshold": v.threshold },
        "adaptation": { "alpha": m.adaptation.alpha, "confirm_within": m.adaptation.confirm_within },
        "cusum": { "k": m.cusum.reference, "h": m.cusum.threshold },
        "method": m.method.name(),
        "siblings": m.siblings.name(),
        "evidence": m.evidence,
        "top_sequences": shown.iter().map(|(f, s)| json!({"frequency": f, "sequence": s})).collect::<Vec<_>>(),
    });
    let mut t = String::new();
    let _ = writeln!(t, "frequency model  {}  ({} v{})", path.display(), m.format, m.version);
    let _ = writeln!(
        t,
        "  vocabulary      {} services, {} (service, operation) calls, {} distinct sequences (siblings: {})",
        services.len(),
        m.calls.len(),
        m.sequences.len(),
        match m.siblings {
            Siblings::Time => "in time order",
            Siblings::Concurrent => "concurrent calls in a fixed order",
        }
    );
    let _ = writeln!(
        t,
        "  training        {} traces; {} validation traces in {} windows of {}",
        m.training.traces, m.training.validation_traces, v.windows, m.window
    );
    match m.method {
        Method::Threshold => {
            let _ = writeln!(
                t,
                "  threshold       {:.4} = mean {:.4} + {}·σ {:.4}   statistic: {statistic}",
                v.threshold, v.mean, m.k, v.std
            );
            let _ = writeln!(
                t,
                "  drift           adaptation α {}, re-baselining {}; CUSUM k {} h {}",
                m.adaptation.alpha,
                if m.adaptation.confirm_within == 0 {
                    "off".to_owned()
                } else {
                    format!("after {} windows", m.adaptation.confirm_within)
                },
                m.cusum.reference,
                m.cusum.threshold
            );
        }
        Method::Evidence => {
            let e = &m.evidence;
            let rare = if e.rare.traces > 0.0 {
                100.0 * e.rare.rare_traces / e.rare.traces
            } else {
                0.0
            };
            let _ = writeln!(
                t,
                "  method          evidence: tests at level {} per window, calibrated by the measured scatter φ {:.2}, κ {:.4}",
                e.alpha, e.dispersion.phi, e.dispersion.kappa
            );
            let _ = writeln!(
                t,
                "  rare paths      {rare:.2} % of validation traces had a sequence the reference held less than one trace of"
            );
            let _ = writeln!(
                t,
                "  drift           reference step {}; a regime change confirmed after {} agreeing windows; {} past mixes remembered; CUSUM k {} h {}",
                e.adapt, e.confirm_windows, e.library, e.cusum_reference, e.cusum_threshold
            );
        }
    }
    let _ = writeln!(t, "  most frequent sequences:");
    for (f, s) in &shown {
        let _ = writeln!(t, "    {:>6.2}%  {s}", f * 100.0);
    }
    (json, t)
}
