//! Training the graph detector from normal exchange events: the edge vocabulary and its scaling, the
//! microservice-aware autoencoder (in Rust), and a threshold aimed at a very low false-alarm rate.
//!
//! **Threshold rule**: `max(mean + 4·σ, 1.1 × max)` of the scores of the normal validation intervals. The paper
//! reports its detection rates at a 0.01 % false-alarm rate; a few hundred validation intervals cannot estimate so
//! far a tail, so the rule sits above every validation interval with a 10 % margin and at least 4σ above their
//! mean (a Gaussian tail of 0.003 %). Measured false-alarm rates are in the README.

use spanguard_exchange::ExchangeEvent;

use super::autoencoder::{Architecture, Autoencoder, TrainSettings};
use super::interval::{build_intervals, IntervalGraph};
use super::model::{
    ArchitectureEntry, EdgeEntry, GraphModel, GroupEntry, Threshold, TrainingStats, UnknownEdgePolicy, FORMAT, VERSION,
};
use super::score::GraphScorer;
use crate::frequency::train::mean_std;

/// Smallest residual spread an edge is credited with (2 % of its scaled range): an edge reconstructed perfectly
/// in training must not turn every later rounding difference into an alarm.
pub const RESIDUAL_FLOOR: f64 = 0.02;

/// How many intervals' worth of evidence the pooled residual spread counts for in each edge's own spread.
pub const PRIOR_INTERVALS: f64 = 5.0;

/// A reconstruction above this (scaled) value counts as the network expecting the edge to be active.
pub const EXPECTED_ACTIVE: f32 = 0.1;

/// Training settings.
#[derive(Debug, Clone)]
pub struct GraphTrainOptions {
    /// Interval length, ns.
    pub interval_ns: u64,
    /// Fraction of the normal intervals (the last ones) held out for validation when no validation events are
    /// given.
    pub validation_split: f64,
    /// Autoencoder training.
    pub autoencoder: TrainSettings,
    /// Policy for never-seen edges, stored in the model.
    pub unknown_edge_policy: UnknownEdgePolicy,
}

impl Default for GraphTrainOptions {
    fn default() -> Self {
        Self {
            interval_ns: 5_000_000_000,
            validation_split: 0.2,
            autoencoder: TrainSettings::default(),
            unknown_edge_policy: UnknownEdgePolicy::Communication,
        }
    }
}

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum GraphTrainError {
    /// Too little data.
    #[error("{0}")]
    TooLittle(String),
    /// Reconstruction failed (cannot happen with the Rust network; kept for the shared scoring path).
    #[error(transparent)]
    Runtime(#[from] super::runtime::RuntimeError),
}

/// A trained model and its network.
pub struct Trained {
    /// `graph.json`.
    pub model: GraphModel,
    /// The network (export it with [`super::onnx::export`]).
    pub autoencoder: Autoencoder,
}

/// Trains from normal events (and optional normal validation events); `progress(epoch, epochs, loss)`.
pub fn train_graph(
    normal: &[ExchangeEvent],
    validation: Option<&[ExchangeEvent]>,
    opts: &GraphTrainOptions,
    mut progress: impl FnMut(usize, usize, f32),
) -> Result<Trained, GraphTrainError> {
    let (builder, mut intervals) = build_intervals(normal, opts.interval_ns);
    let held_out: Vec<IntervalGraph> = match validation {
        Some(_) => Vec::new(),
        None => {
            let keep = ((intervals.len() as f64) * (1.0 - opts.validation_split)).round() as usize;
            intervals.split_off(keep.min(intervals.len()))
        }
    };
    if intervals.len() < 4 {
        return Err(GraphTrainError::TooLittle(format!(
            "only {} training intervals of {} ms: record more normal events or use a shorter --interval",
            intervals.len(),
            opts.interval_ns / 1_000_000
        )));
    }
    // Vocabulary: every edge seen in training, grouped by microservice.
    let mut edges: Vec<EdgeEntry> = Vec::new();
    let mut groups: Vec<GroupEntry> = Vec::new();
    let mut index: hashbrown::HashMap<(u32, u32), usize> = hashbrown::HashMap::new();
    for g in &intervals {
        for e in &g.edges {
            let log = (e.bytes as f64).ln_1p();
            let i = *index.entry((e.src, e.dst)).or_insert_with(|| {
                let service = builder.nodes.name(e.group).to_owned();
                let gi = match groups.iter().position(|x| x.service == service) {
                    Some(i) => i,
                    None => {
                        groups.push(GroupEntry {
                            service,
                            edges: Vec::new(),
                        });
                        groups.len() - 1
                    }
                };
                edges.push(EdgeEntry {
                    src: builder.nodes.name(e.src).to_owned(),
                    dst: builder.nodes.name(e.dst).to_owned(),
                    group: gi,
                    max_log_bytes: 0.0,
                    residual_std: 1.0,
                });
                groups[gi].edges.push(edges.len() - 1);
                edges.len() - 1
            });
            edges[i].max_log_bytes = edges[i].max_log_bytes.max(log);
        }
    }
    if edges.is_empty() {
        return Err(GraphTrainError::TooLittle(
            "no data exchanges in the training events".into(),
        ));
    }
    let arch = Architecture::for_groups(groups.iter().map(|g| g.edges.clone()).collect(), edges.len());
    let mut model = GraphModel {
        format: FORMAT.to_owned(),
        version: VERSION,
        interval_ms: opts.interval_ns / 1_000_000,
        onnx: "autoencoder.onnx".to_owned(),
        edges,
        groups,
        architecture: ArchitectureEntry {
            hidden: arch.hidden.clone(),
            bottleneck: arch.bottleneck,
        },
        threshold: Threshold {
            value: 0.0,
            rule: "max(mean + 4σ, 1.1 × max) of the validation interval scores".to_owned(),
            mean: 0.0,
            std: 0.0,
            max: 0.0,
            intervals: 0,
        },
        unknown_edge_policy: opts.unknown_edge_policy,
        training: TrainingStats {
            intervals: intervals.len(),
            events: intervals.iter().map(|g| g.events).sum(),
            epochs: opts.autoencoder.epochs,
            loss: 0.0,
        },
    };

    // Features through the same path scoring uses (the network does not matter for features).
    let samples = GraphScorer::new(model.clone(), Box::new(Autoencoder::new(arch.clone(), 0)))
        .features_built_by(&intervals, &builder.nodes);
    let mut ae = Autoencoder::new(arch.clone(), opts.autoencoder.seed);
    let epochs = opts.autoencoder.epochs;
    let mut last = 0.0;
    ae.train(&samples, &opts.autoencoder, |epoch, loss| {
        last = loss;
        progress(epoch, epochs, loss);
    });
    model.training.loss = f64::from(last);
    for (edge, std) in model
        .edges
        .iter_mut()
        .zip(residual_spreads(&samples, &arch, &opts.autoencoder))
    {
        edge.residual_std = std;
    }

    // Validation scores, with the trained network, through the scoring path.
    let mut scorer = GraphScorer::new(model.clone(), Box::new(ae.clone()));
    let scores: Vec<f64> = match validation {
        Some(v) => scorer
            .score_all(v)?
            .into_iter()
            .filter(|s| s.unknown_edges.is_empty())
            .map(|s| s.score)
            .collect(),
        None => {
            let mut out = Vec::new();
            for g in &held_out {
                let s = scorer.score_built_by(g, &builder.nodes)?;
                if s.unknown_edges.is_empty() {
                    out.push(s.score);
                }
            }
            out
        }
    };
    if scores.len() < 2 {
        return Err(GraphTrainError::TooLittle(format!(
            "only {} validation intervals without never-seen edges: give more validation events (--validation) or a larger split",
            scores.len()
        )));
    }
    let (mean, std) = mean_std(&scores);
    let max = scores.iter().copied().fold(f64::MIN, f64::max);
    model.threshold = Threshold {
        value: (mean + 4.0 * std).max(1.1 * max),
        mean,
        std,
        max,
        intervals: scores.len(),
        ..model.threshold
    };
    Ok(Trained { model, autoencoder: ae })
}

/// Each edge's residual spread: the unit its deviations are scored in.
///
/// - **Out of fold**: the residuals come from networks that did not see the interval (two folds of alternating
///   one-minute blocks, so that neighbouring intervals do not leak into each other). The network fits its
///   training intervals closely — a rare edge it memorized would be credited with a spread of almost nothing
///   and every later occurrence would be a deviation of many σ.
/// - **Where active**: only the intervals where the edge is active, or where a network expects it, count. An
///   edge that comes and goes (a snapshot every minute, a checkpoint, a restart) is measured against its spread
///   when it is there; averaged over the intervals where it is absent, its spread would shrink by the square
///   root of its duty cycle.
/// - **Shrunk** towards the pooled spread of all edges, the pool counting as [`PRIOR_INTERVALS`] observations
///   (empirical Bayes): an edge active in three intervals has no spread of its own worth trusting.
fn residual_spreads(samples: &[Vec<f32>], arch: &Architecture, settings: &TrainSettings) -> Vec<f64> {
    let e = arch.edges;
    let fold_of = |i: usize| (i / FOLD_BLOCK) % 2;
    let mut sum_sq = vec![0.0f64; e];
    let mut active = vec![0usize; e];
    for fold in 0..2 {
        let fit: Vec<Vec<f32>> = samples
            .iter()
            .enumerate()
            .filter(|(i, _)| fold_of(*i) != fold)
            .map(|(_, x)| x.clone())
            .collect();
        if fit.is_empty() {
            continue;
        }
        let mut net = Autoencoder::new(arch.clone(), settings.seed.wrapping_add(1 + fold as u64));
        net.train(&fit, settings, |_, _| {});
        for (_, x) in samples.iter().enumerate().filter(|(i, _)| fold_of(*i) == fold) {
            for (i, y) in net.reconstruct(x).iter().enumerate() {
                if x[i] > 0.0 || *y > EXPECTED_ACTIVE {
                    sum_sq[i] += f64::from(x[i] - y).powi(2);
                    active[i] += 1;
                }
            }
        }
    }
    let pooled = sum_sq.iter().sum::<f64>() / active.iter().sum::<usize>().max(1) as f64;
    sum_sq
        .into_iter()
        .zip(active)
        .map(|(ss, n)| {
            ((ss + PRIOR_INTERVALS * pooled) / (n as f64 + PRIOR_INTERVALS))
                .sqrt()
                .max(RESIDUAL_FLOOR)
        })
        .collect()
}

/// Intervals per block of the two folds the residual spreads are measured out of.
const FOLD_BLOCK: usize = 12;

/// Writes `dir/graph.json` and `dir/autoencoder.onnx`.
pub fn save(trained: &Trained, dir: &std::path::Path) -> Result<(), super::model::GraphModelError> {
    trained.model.save(dir)?;
    let path = trained.model.onnx_path(dir);
    let doc = format!(
        "spanguard microservice-aware autoencoder: {} edges in {} groups, interval {} ms",
        trained.model.edges.len(),
        trained.model.groups.len(),
        trained.model.interval_ms
    );
    std::fs::write(&path, super::onnx::export(&trained.autoencoder, &doc)).map_err(|source| {
        super::model::GraphModelError::Io {
            path: path.display().to_string(),
            source,
        }
    })
}
