//! `spanguard train|score|eval frequency`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use spanguard_processor::frequency::baseline::Statistic;
use spanguard_processor::frequency::cusum::CusumParams;
use spanguard_processor::frequency::drift::Adaptation;
use spanguard_processor::frequency::holdout::{evaluate, Burst, EvalResult};
use spanguard_processor::frequency::model::Method;
use spanguard_processor::frequency::report;
use spanguard_processor::frequency::sequence::Siblings;
use spanguard_processor::frequency::tracking::EvidenceSettings;
use spanguard_processor::frequency::windows::score_windows;
use spanguard_processor::frequency::{train, FrequencyDetector, FrequencyModel, TrainOptions};

use crate::traces::{load, Order};

/// How windows are judged and how the baseline follows traffic.
#[derive(clap::Args, Debug, Clone)]
pub struct MethodArgs {
    /// The paper's method exactly: Euclidean distance (eq. 3) against a fixed baseline, threshold mean + k·σ of
    /// the validation windows. Same as `--method threshold --statistic euclidean --alpha 0 --confirm-within 0`.
    #[arg(long)]
    pub paper: bool,
    /// `evidence`: per-sequence and whole-mix tests calibrated by the noise measured on normal windows, with
    /// regime tracking (spanguard's default); `threshold`: mean + k·σ of validation distances (the paper's rule).
    #[arg(long, value_enum, default_value = "evidence")]
    pub method: Method,
    /// Threshold method: `chi` standardizes each sequence's deviation by its variability; `euclidean` is the
    /// paper's eq. 3.
    #[arg(long, value_enum, default_value = "chi")]
    pub statistic: StatisticArg,
    /// Step of the baseline towards each window judged normal (0 = fixed baseline; threshold method only).
    /// Default: 0.1 for the evidence method, 0.05 for the threshold method.
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Evidence method: the per-window level of its tests, the nominal share of normal windows flagged by
    /// chance.
    #[arg(long, default_value_t = 0.005)]
    pub level: f64,
    /// Evidence method: the level at which a departure's remainder (the window without its surging sequences)
    /// no longer matches the reference, making it a re-mix (a candidate regime change) rather than a surge.
    #[arg(long, default_value_t = 0.01)]
    pub remix_level: f64,
    /// Evidence method: agreeing departed windows that confirm a regime change and move the reference to it
    /// (0 = never).
    #[arg(long, default_value_t = 3)]
    pub confirm: usize,
    /// Threshold method: re-baseline when two flagged windows at most this many windows apart agree (a
    /// persistent shift); 0 = never.
    #[arg(long, default_value_t = 0)]
    pub confirm_within: usize,
    /// Threshold method: step of the baseline towards a confirmed new regime.
    #[arg(long, default_value_t = 0.8)]
    pub beta: f64,
    /// CUSUM allowance k, in σ.
    #[arg(long, default_value_t = 0.5)]
    pub cusum_k: f64,
    /// CUSUM decision threshold h, in σ.
    #[arg(long, default_value_t = 5.0)]
    pub cusum_h: f64,
    /// How a trace's sequence orders sibling calls: `time` (by start, the paper's order; the default) or
    /// `concurrent` (calls that ran at the same time in a fixed order: for applications that fan out in
    /// parallel, README "Concurrent calls have no order").
    /// --paper always walks in time order, as the paper counts sequences.
    #[arg(long, value_enum, default_value = "time")]
    pub siblings: Siblings,
}

/// `--statistic`: which [`Statistic`] the threshold method uses. The domain enum carries the chi statistic's
/// pooling level, which follows from the window size, so the flag names only the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatisticArg {
    /// Standardized (Pearson) distance.
    Chi,
    /// The paper's eq. 3.
    Euclidean,
}

impl MethodArgs {
    /// The paper's method, whatever else was given (for side-by-side comparisons).
    pub fn paper() -> Self {
        Self {
            paper: true,
            method: Method::Threshold,
            statistic: StatisticArg::Euclidean,
            alpha: Some(0.0),
            level: 0.005,
            remix_level: 0.01,
            confirm: 3,
            confirm_within: 0,
            beta: 0.8,
            cusum_k: 0.5,
            cusum_h: 5.0,
            siblings: Siblings::Time,
        }
    }

    /// The training options these arguments ask for.
    pub fn options(&self, window: usize, k: f64) -> TrainOptions {
        let chi = Statistic::Chi {
            min_frequency: 1.0 / (2.0 * window.max(1) as f64),
        };
        let cusum = CusumParams {
            reference: self.cusum_k,
            threshold: self.cusum_h,
        };
        if self.paper {
            return TrainOptions {
                window,
                k,
                cusum,
                ..TrainOptions::default()
            };
        }
        let base = TrainOptions {
            siblings: self.siblings,
            ..TrainOptions::default()
        };
        match self.method {
            Method::Evidence => TrainOptions {
                window,
                k,
                cusum,
                statistic: chi,
                method: Method::Evidence,
                evidence: EvidenceSettings {
                    alpha: self.level,
                    remix_alpha: self.remix_level,
                    adapt: self.alpha.unwrap_or(EvidenceSettings::default().adapt),
                    confirm_windows: self.confirm,
                    cusum_reference: self.cusum_k,
                    cusum_threshold: self.cusum_h,
                    ..EvidenceSettings::default()
                },
                ..base
            },
            Method::Threshold => TrainOptions {
                window,
                k,
                adaptation: Adaptation {
                    alpha: self.alpha.unwrap_or(Adaptation::recommended().alpha),
                    confirm_within: self.confirm_within,
                    beta: self.beta,
                    ..Adaptation::default()
                },
                cusum,
                statistic: match self.statistic {
                    StatisticArg::Chi => chi,
                    StatisticArg::Euclidean => Statistic::Euclidean,
                },
                ..base
            },
        }
    }
}

/// `spanguard train frequency`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Normal traces: OTLP/JSON lines (optionally .gz) or Jaeger JSON.
    #[arg(long)]
    pub traces: PathBuf,
    /// Normal validation traces; without it the last --validation-split of --traces is used.
    #[arg(long, conflicts_with = "validation_split")]
    pub validation: Option<PathBuf>,
    /// Fraction of --traces (its end, in order) held out for validation.
    #[arg(long, default_value_t = 0.2)]
    pub validation_split: f64,
    /// Traces per window.
    #[arg(long, default_value_t = 50)]
    pub window: usize,
    /// Threshold = mean + k·σ of the validation distances.
    #[arg(long, default_value_t = 2.0)]
    pub k: f64,
    /// Where to write the model.
    #[arg(long, default_value = "model/frequency.json")]
    pub out: PathBuf,
    /// Skip malformed lines (counted) instead of failing.
    #[arg(long)]
    pub skip_bad: bool,
    /// Order of traces for windowing.
    #[arg(long, value_enum, default_value = "file")]
    pub order: Order,
    #[command(flatten)]
    pub method: MethodArgs,
}

/// `spanguard score frequency`.
#[derive(clap::Args, Debug)]
pub struct ScoreArgs {
    /// A model written by `spanguard train frequency`.
    #[arg(long)]
    pub model: PathBuf,
    /// Traces to score, in windows of consecutive traces.
    #[arg(long)]
    pub traces: PathBuf,
    /// Traces per window (default: the model's).
    #[arg(long)]
    pub window: Option<usize>,
    /// `json`: one JSON object per window; `table`: for people. Default: a table at a terminal, JSON otherwise.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Skip malformed lines (counted) instead of failing.
    #[arg(long)]
    pub skip_bad: bool,
    /// Order of traces for windowing.
    #[arg(long, value_enum, default_value = "file")]
    pub order: Order,
}

pub use super::output::Format;

/// Trains and writes a model; returns it.
pub fn train_cmd(args: &TrainArgs) -> anyhow::Result<FrequencyModel> {
    let mut traces = load(&args.traces, args.skip_bad, args.order)?;
    let validation = match &args.validation {
        Some(v) => load(v, args.skip_bad, args.order)?,
        None => {
            if !(0.0..1.0).contains(&args.validation_split) || args.validation_split == 0.0 {
                anyhow::bail!("--validation-split must be in (0, 1), e.g. 0.2");
            }
            let at = ((traces.len() as f64) * (1.0 - args.validation_split)).round() as usize;
            traces.split_off(at.min(traces.len()))
        }
    };
    let opts = args.method.options(args.window, args.k);
    let model = train(&traces, &validation, &opts).context("training failed")?;
    model.save(&args.out)?;
    println!("frequency model: {} → {}", report::summary(&model), args.out.display());
    Ok(model)
}

/// Scores a file and prints one line per window.
pub fn score_cmd(args: &ScoreArgs) -> anyhow::Result<()> {
    let model = FrequencyModel::load(&args.model)?;
    let traces = load(&args.traces, args.skip_bad, args.order)?;
    let window = args.window.unwrap_or(model.window);
    let mut detector = FrequencyDetector::new(&model);
    let lines = score_windows(&mut detector, &traces, window);
    let mut out = std::io::stdout().lock();
    match Format::or_default(args.format) {
        Format::Json => {
            for l in &lines {
                serde_json::to_writer(&mut out, l)?;
                writeln!(out)?;
            }
        }
        Format::Table => report::write_windows(&mut out, &lines)?,
    }
    Ok(())
}

/// `spanguard eval frequency`.
#[derive(clap::Args, Debug)]
pub struct EvalArgs {
    /// Normal traffic, in order: the first --train-fraction trains, the next --validation-fraction validates,
    /// the rest is scored as normal windows (false alarms).
    #[arg(long)]
    pub normal: PathBuf,
    /// Attack traffic, scored as windows right after the normal test windows (detections). Needed unless
    /// --burst or --stream is given.
    #[arg(long, required_unless_present_any = ["burst", "stream"])]
    pub attack: Option<PathBuf>,
    /// Also test, at every normal test window, a copy with this fraction of its traces replaced by one real
    /// training trace (scored on a copy of the detector's state, so the stream itself stays normal).
    #[arg(long)]
    pub burst: Option<f64>,
    /// The burst repeats the first training trace whose sequence contains this text (default: the rarest
    /// sequence seen at least 3 times in training).
    #[arg(long)]
    pub burst_like: Option<String>,
    /// Window sizes to try (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "50")]
    pub window: Vec<usize>,
    /// Threshold multipliers to try (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "2")]
    pub k: Vec<f64>,
    /// Fraction of --normal used for training.
    #[arg(long, default_value_t = 0.4)]
    pub train_fraction: f64,
    /// Fraction of --normal used for validation.
    #[arg(long, default_value_t = 0.1)]
    pub validation_fraction: f64,
    /// `json`: one JSON object per setting; `table`: for people. Default: a table at a terminal, JSON otherwise.
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Skip malformed lines (counted) instead of failing.
    #[arg(long)]
    pub skip_bad: bool,
    /// Order of traces.
    #[arg(long, value_enum, default_value = "file")]
    pub order: Order,
    #[command(flatten)]
    pub method: MethodArgs,
    #[command(flatten)]
    pub streaming: super::stream::StreamArgs,
}

/// Runs every (window, k) setting and prints the results.
pub fn eval_cmd(args: &EvalArgs) -> anyhow::Result<Vec<EvalResult>> {
    let normal = load(&args.normal, args.skip_bad, args.order)?;
    if args.streaming.stream {
        super::stream::run(
            normal,
            &args.normal,
            &args.streaming,
            &args.method,
            args.window.first().copied().unwrap_or(50),
            &args.k,
            args.train_fraction,
            args.validation_fraction,
            Format::or_default(args.format),
        )?;
        return Ok(Vec::new());
    }
    let attack = match &args.attack {
        Some(a) => load(a, args.skip_bad, args.order)?,
        None => Vec::new(),
    };
    let burst = args.burst.map(|fraction| Burst {
        fraction,
        like: args.burst_like.clone(),
    });
    if burst.as_ref().is_some_and(|b| !(b.fraction > 0.0 && b.fraction <= 1.0)) {
        anyhow::bail!("--burst must be a fraction in (0, 1], e.g. 0.3");
    }
    let mut results = Vec::new();
    for w in &args.window {
        for k in &args.k {
            results.push(evaluate(
                &normal,
                &attack,
                burst.as_ref(),
                &args.method.options(*w, *k),
                args.train_fraction,
                args.validation_fraction,
            )?);
        }
    }
    let mut out = std::io::stdout().lock();
    match Format::or_default(args.format) {
        Format::Json => {
            for r in &results {
                serde_json::to_writer(&mut out, r)?;
                writeln!(out)?;
            }
        }
        Format::Table => report::write_holdout(&mut out, &results)?,
    }
    Ok(results)
}
