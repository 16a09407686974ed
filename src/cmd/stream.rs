//! `spanguard eval frequency --stream`: one file in time order, scored in one pass with state carried, bursts
//! injected (the evaluation itself is `spanguard_processor::frequency::eval`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use spanguard_processor::frequency::eval::{Injection, InjectionKind, Label, Stream, StreamOptions, StreamResult};
use spanguard_processor::Trace;

use super::frequency::MethodArgs;
use super::output::Format;

/// The streaming evaluation's options (with `--stream`).
#[derive(clap::Args, Debug, Clone)]
pub struct StreamArgs {
    /// Streaming evaluation: score --normal once, in order, with the detector's state carried from window to
    /// window, and inject bursts into windows picked at random (seeded); report false alarms, bursts caught
    /// within 1 and 2 windows, and the delay.
    #[arg(long)]
    pub stream: bool,
    /// Injections, `kind:fraction` comma-separated: `surge` (an existing sequence with a 1–10 % share in the last
    /// 10 windows), `novel` (a real trace with one call removed or added: a never-seen path), `rare` (a sequence
    /// below 1 % of training).
    #[arg(
        long,
        value_delimiter = ',',
        value_parser = parse_injection,
        default_value = "surge:0.1,surge:0.2,surge:0.3,novel:0.05,novel:0.1,rare:0.1,rare:0.2,rare:0.3"
    )]
    pub inject: Vec<Injection>,
    /// Replays of the stream, each with its own burst schedule.
    #[arg(long, default_value_t = 10)]
    pub runs: usize,
    /// Seed of the first replay's schedule.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Normal windows between two bursts, `min-max` (bursts last 1 or 2 windows).
    #[arg(long, default_value = "15-35", value_parser = parse_gap)]
    pub gap: (usize, usize),
    /// Labelled periods (faults, recorded attacks): a JSON array of objects with `timestamp` (or `start`, and
    /// optionally `end`, unix seconds) and `fault` or `kind`; their windows are neither normal nor bursts, and
    /// are reported apart.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// How long a label without `end` lasts, e.g. 5m.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub label_duration: Duration,
    /// Shuffle the traces first (a stationary mix), seeded by --seed.
    #[arg(long)]
    pub shuffle: bool,
    /// Also score the paper's method (eq. 3, fixed baseline, mean + k·σ for each --k) on the same schedules.
    #[arg(long)]
    pub compare_paper: bool,
    /// Print every window of this run (from 0): what it was, what the detector said and why.
    #[arg(long)]
    pub explain: Option<usize>,
}

fn parse_injection(s: &str) -> Result<Injection, String> {
    let (kind, fraction) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected kind:fraction, e.g. surge:0.3"))?;
    let kind = match kind {
        "surge" => InjectionKind::Surge,
        "novel" => InjectionKind::Novel,
        "rare" => InjectionKind::Rare,
        other => return Err(format!("{other:?}: the injections are surge, novel and rare")),
    };
    let fraction: f64 = fraction
        .parse()
        .map_err(|_| format!("{fraction:?}: a fraction, e.g. 0.3"))?;
    if !(fraction > 0.0 && fraction <= 1.0) {
        return Err(format!("{fraction}: a fraction in (0, 1], e.g. 0.3"));
    }
    Ok(Injection { kind, fraction })
}

fn parse_gap(s: &str) -> Result<(usize, usize), String> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let n = |x: &str| {
        x.trim()
            .parse::<usize>()
            .map_err(|_| format!("{s:?}: windows, e.g. 15-35"))
    };
    let (a, b) = (n(a)?, n(b)?);
    if a == 0 || b < a {
        return Err(format!("{s:?}: min-max with 1 ≤ min ≤ max, e.g. 15-35"));
    }
    Ok((a, b))
}

/// Reads a labels file (the datasets' fault labels, or any array of `{timestamp|start, end?, fault|kind}`).
pub fn read_labels(path: &Path, duration: Duration) -> anyhow::Result<Vec<Label>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let items: Vec<serde_json::Value> =
        serde_json::from_str(&text).with_context(|| format!("{}: not a JSON array of labels", path.display()))?;
    let secs = |v: &serde_json::Value| v.as_f64().map(|s| (s * 1e9) as u64);
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let start = item
                .get("start")
                .or_else(|| item.get("timestamp"))
                .and_then(secs)
                .ok_or_else(|| {
                    anyhow::anyhow!("{}: label {i} has no timestamp or start (unix seconds)", path.display())
                })?;
            let end = item
                .get("end")
                .and_then(secs)
                .unwrap_or(start + duration.as_nanos() as u64);
            let kind = item
                .get("fault")
                .or_else(|| item.get("kind"))
                .and_then(|v| v.as_str())
                .unwrap_or("labelled")
                .to_owned();
            Ok(Label {
                start_ns: start,
                end_ns: end,
                kind,
            })
        })
        .collect()
}

/// One row of the report.
#[derive(Serialize)]
struct Row<'a> {
    method: &'a str,
    #[serde(flatten)]
    result: &'a StreamResult,
}

/// Runs the streaming evaluation of `traces` and prints it.
#[allow(clippy::too_many_arguments)]
pub fn run(
    mut traces: Vec<Trace>,
    source: &Path,
    args: &StreamArgs,
    method: &MethodArgs,
    window: usize,
    ks: &[f64],
    train_fraction: f64,
    validation_fraction: f64,
    format: Format,
) -> anyhow::Result<Vec<StreamResult>> {
    if args.shuffle {
        spanguard_processor::rng::Rng::new(args.seed).shuffle(&mut traces);
    }
    let labels = match &args.labels {
        Some(p) => read_labels(p, args.label_duration)?,
        None => Vec::new(),
    };
    let opts = StreamOptions {
        train_fraction,
        validation_fraction,
        runs: args.runs.max(1),
        seed: args.seed,
        gap: args.gap,
        labels,
        explain: args.explain,
    };
    let k = ks.first().copied().unwrap_or(2.0);
    let ours = method.options(window, k);
    let stream = Stream::new(&traces, opts, &ours)?;
    let ours_name = if method.paper { "paper" } else { "default" };
    let mut models = vec![(ours_name.to_owned(), stream.model().clone())];
    if args.compare_paper && !method.paper {
        for k in ks {
            let model = stream.train_like(&MethodArgs::paper().options(window, *k))?;
            models.push((format!("paper k={k}"), model));
        }
    }
    let mut results = Vec::new();
    for injection in &args.inject {
        for (name, model) in &models {
            let r = stream.run(model, *injection)?;
            results.push((name.clone(), r));
        }
    }
    let mut out = std::io::stdout().lock();
    match format {
        Format::Json => {
            for (name, r) in &results {
                serde_json::to_writer(
                    &mut out,
                    &Row {
                        method: name,
                        result: r,
                    },
                )?;
                writeln!(out)?;
            }
        }
        Format::Table => table(&mut out, &stream, source, args, window, &results)?,
    }
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

fn table(
    out: &mut impl Write,
    stream: &Stream<'_>,
    source: &Path,
    args: &StreamArgs,
    window: usize,
    results: &[(String, StreamResult)],
) -> std::io::Result<()> {
    let (tw, vw, test) = stream.split();
    writeln!(
        out,
        "{}: windows of {window}: {tw} train, {vw} validate, {test} scored in one pass{}; {} runs, bursts of 1–2 windows every {}–{} windows",
        source.display(),
        if args.shuffle { " (shuffled)" } else { "" },
        args.runs,
        args.gap.0,
        args.gap.1
    )?;
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
            let said = super::frequency::verdict_word(v);
            let why = v.top.first().map_or(String::new(), |t| match (t.count, t.expected) {
                (Some(c), Some(e)) => format!("{c} vs {e:.1}{}", if t.novel { " (never seen)" } else { "" }),
                _ => format!("{:.3} vs {:.3}", t.observed, t.baseline),
            });
            writeln!(
                out,
                "    {:>4} {:<10} {:<9} evidence {:>6.2} distance {:.3}/{:.3}  {}",
                w.window,
                w.truth,
                said,
                v.evidence.unwrap_or(f64::NAN),
                v.distance,
                v.threshold,
                why
            )?;
        }
    }
    Ok(())
}

fn pct(a: usize, b: usize) -> String {
    if b == 0 {
        "-".to_owned()
    } else {
        format!("{:.1} %", 100.0 * a as f64 / b as f64)
    }
}
