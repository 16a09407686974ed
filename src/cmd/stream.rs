//! `spanguard eval frequency --stream`: one file in time order, scored in one pass with state carried, bursts
//! injected (the evaluation itself is `spanguard_processor::frequency::eval`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use spanguard_processor::frequency::eval::{Injection, Stream, StreamOptions, StreamResult};
use spanguard_processor::frequency::labels::read_labels;
use spanguard_processor::frequency::report;
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
    report::write_stream(out, results)
}
