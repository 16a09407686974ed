//! `spanguard train|score graph`.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use spanguard_ebpf_probe::file::read_events;
use spanguard_processor::graph::autoencoder::TrainSettings;
use spanguard_processor::graph::model::UnknownEdgePolicy;
use spanguard_processor::graph::report;
use spanguard_processor::graph::score::{GraphScorer, IntervalScore};
use spanguard_processor::graph::train::{save, train_graph, GraphTrainOptions};

use super::output::Format;

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
    pub unknown_edge_policy: UnknownEdgePolicy,
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
        unknown_edge_policy: args.unknown_edge_policy,
    };
    let bar = crate::progress::Bar::new(args.epochs as u64, "training autoencoder");
    let trained = train_graph(&normal, validation.as_deref(), &opts, |epoch, _, loss| {
        bar.set(epoch as u64 + 1, &format!("loss {loss:.5}"));
    })?;
    bar.finish();
    save(&trained, &args.out)?;
    println!(
        "graph model: {} → {}",
        report::summary(&trained.model),
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
        Format::Table => report::write_intervals(&mut out, &scores)?,
    }
    Ok(scores)
}
