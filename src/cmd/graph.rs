//! `spanguard train|score graph`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use spanguard_ebpf_probe::file::read_events;
use spanguard_processor::graph::autoencoder::TrainSettings;
use spanguard_processor::graph::model::UnknownEdgePolicy;
use spanguard_processor::graph::score::{GraphScorer, IntervalScore};
use spanguard_processor::graph::train::{save, train_graph, GraphTrainOptions};

use super::output::Format;

/// `--unknown-edge-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyArg {
    /// A never-seen communication (socket or pipe edge) flags its interval by itself; never-seen file and memory
    /// accesses are reported and left to the reconstruction error.
    Communication,
    /// Any edge never seen in training flags its interval by itself (the paper).
    Alert,
    /// Never-seen edges are reported; only the reconstruction error decides.
    Ignore,
}

/// `spanguard train graph`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Normal exchange events (JSON lines, optionally .gz), e.g. recorded with `spanguard probe`.
    #[arg(long)]
    pub events: PathBuf,
    /// Normal validation events; without them the last --validation-split of the intervals is held out.
    #[arg(long)]
    pub validation: Option<PathBuf>,
    /// Fraction of the intervals held out for validation when --validation is not given.
    #[arg(long, default_value_t = 0.2)]
    pub validation_split: f64,
    /// Interval length (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Model directory to write (graph.json + autoencoder.onnx).
    #[arg(long, default_value = "model/graph")]
    pub out: PathBuf,
    /// Training epochs.
    #[arg(long, default_value_t = 1500)]
    pub epochs: usize,
    /// What an edge never seen in training does.
    #[arg(long, value_enum, default_value = "communication")]
    pub unknown_edge_policy: PolicyArg,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// `spanguard score graph`.
#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// Model directory written by `spanguard train graph`.
    #[arg(long)]
    pub model: PathBuf,
    /// Exchange events to score.
    #[arg(long)]
    pub events: PathBuf,
    /// `json`: one JSON object per interval; `table`: for people. Default: a table at a terminal, JSON otherwise.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Trains, writes the model directory, and prints a summary.
pub fn train_cmd(args: &TrainArgs) -> anyhow::Result<()> {
    let normal = read_events(&args.events)?;
    let validation = match &args.validation {
        Some(v) => Some(read_events(v)?),
        None => None,
    };
    let opts = GraphTrainOptions {
        interval_ns: u64::try_from(args.interval.as_nanos()).unwrap_or(u64::MAX).max(1),
        validation_split: args.validation_split,
        autoencoder: TrainSettings {
            epochs: args.epochs,
            seed: args.seed,
            ..TrainSettings::default()
        },
        unknown_edge_policy: match args.unknown_edge_policy {
            PolicyArg::Communication => UnknownEdgePolicy::Communication,
            PolicyArg::Alert => UnknownEdgePolicy::Alert,
            PolicyArg::Ignore => UnknownEdgePolicy::Ignore,
        },
    };
    let bar = crate::progress::Bar::new(args.epochs as u64, "training autoencoder");
    let trained = train_graph(&normal, validation.as_deref(), &opts, |epoch, _, loss| {
        bar.set(epoch as u64 + 1, &format!("loss {loss:.5}"));
    })?;
    bar.finish();
    save(&trained, &args.out)?;
    let m = &trained.model;
    println!(
        "graph model: {} training intervals of {} ms ({} events), {} edges in {} microservices, bottleneck {}; final loss {:.5}; threshold {:.4} (calibrated on {} validation and {} out-of-fold training intervals: mean {:.4}, σ {:.4}, max {:.4}); volume rule above {} → {}",
        m.training.intervals,
        m.interval_ms,
        m.training.events,
        m.edges.len(),
        m.groups.len(),
        m.architecture.bottleneck,
        m.training.loss,
        m.threshold.value,
        m.threshold.intervals,
        m.threshold.out_of_fold,
        m.threshold.mean,
        m.threshold.std,
        m.threshold.max,
        m.volume
            .as_ref()
            .map_or("-".to_owned(), |v| format!("×{:.1} the busiest training interval (bytes + 4 KiB)", v.value.exp())),
        args.out.display()
    );
    Ok(())
}

/// Scores an events file with ONNX Runtime and prints one JSON line per interval.
pub fn score_cmd(args: &ScoreArgs) -> anyhow::Result<Vec<IntervalScore>> {
    let events = read_events(&args.events)?;
    let mut scorer = GraphScorer::from_dir(&args.model)?;
    let scores = scorer.score_all(&events)?;
    let mut out = std::io::stdout().lock();
    match Format::or_default(args.format) {
        Format::Json => {
            for s in &scores {
                serde_json::to_writer(&mut out, s)?;
                writeln!(out)?;
            }
        }
        Format::Table => write_table(&mut out, &scores)?,
    }
    Ok(scores)
}

/// `score graph --format table`: one row per interval, what was reconstructed worst, a summary line.
fn write_table(out: &mut impl Write, scores: &[IntervalScore]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>8} {:>10} {:>9} {:>8}  {:<8} worst services; edge missed most (expected → observed bytes)",
        "interval", "score", "threshold", "events", "verdict"
    )?;
    let t0 = scores.first().map_or(0, |s| s.start);
    for s in scores {
        let services: Vec<String> = s
            .services
            .iter()
            .take(3)
            .map(|x| format!("{} {:.2}", x.service, x.error))
            .collect();
        let edge = s.top_edges.first().map_or(String::new(), |e| {
            format!("; {} ({:.0} → {:.0})", e.edge, e.expected, e.observed)
        });
        let unknown = if s.unknown_edges.is_empty() {
            String::new()
        } else {
            format!("; {} never-seen edge(s): {}", s.unknown_edges.len(), s.unknown_edges[0])
        };
        let volume = s
            .volume
            .as_ref()
            .filter(|v| v.over())
            .map_or(String::new(), |v| format!("; more data than ever: {}", v.describe()));
        writeln!(
            out,
            "{:>7.0}s {:>10.3} {:>9.3} {:>8}  {:<8} {}{edge}{unknown}{volume}",
            (s.start.saturating_sub(t0)) as f64 / 1e9,
            s.score,
            s.threshold,
            s.events,
            if s.anomalous { "ANOMALY" } else { "normal" },
            services.join(", ")
        )?;
    }
    let flagged = scores.iter().filter(|s| s.anomalous).count();
    writeln!(out, "{flagged} of {} intervals flagged", scores.len())
}
