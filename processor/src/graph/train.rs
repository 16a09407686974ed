//! Training the graph detector from normal exchange events: the edge vocabulary and its scaling, the
//! microservice-aware autoencoder (in Rust), and a threshold aimed at a very low false-alarm rate.
//!
//! **Threshold rule** ([`RULE`]): `max(mean + 4·σ, 1.1 × max)` of the calibration scores, which are those of the
//! normal validation intervals and of every training interval scored by a network that did not see it (the
//! out-of-fold networks the residual spreads come from). The paper reports its detection rates at a 0.01 %
//! false-alarm rate; a few hundred intervals cannot estimate so far a tail, so the rule sits above every
//! calibration interval with a 10 % margin and at least 4σ above their mean (a Gaussian tail of 0.003 %).
//! Validation alone is the last fifth of a recording: a few minutes of training leave a dozen intervals, and a
//! variation that happens to fall outside them (a restart, a snapshot) sets no part of the threshold. The
//! out-of-fold scores cover the whole recording; they come from networks trained on half of it, so they err
//! high, towards fewer false alarms. Measured false-alarm rates are in the README.

use spanguard_exchange::ExchangeEvent;

use super::autoencoder::{Architecture, Autoencoder, TrainSettings};
use super::interval::{build_intervals, IntervalGraph};
use super::model::{
    ArchitectureEntry, EdgeEntry, GraphModel, GroupEntry, Threshold, TrainingStats, UnknownEdgePolicy, VolumeThreshold,
    FORMAT, VERSION,
};
use super::score::{mean_squared_residual, volume_excess_nats, GraphScorer, IntervalScore};
use crate::frequency::train::mean_std;

/// The threshold rule, in words, as `graph.json` records it.
pub const RULE: &str =
    "max(mean + 4σ, 1.1 × max) of the scores of the validation intervals and of the training intervals scored out of fold";

/// The volume rule, in words, as `graph.json` records it.
pub const VOLUME_RULE: &str = "an interval is anomalous when a communication edge exceeds its busiest training interval by more than max(ln 2, mean + 4σ, 1.1 × max) of the excess of the validation intervals and of each training interval over the other fold";

/// The smallest volume threshold, nats: `bytes + 4 KiB` twice the busiest training interval's. A recording whose
/// folds never exceed each other (a steady load) must not make every byte more than the maximum an alarm.
pub const VOLUME_FLOOR: f64 = std::f64::consts::LN_2;

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
            rule: RULE.to_owned(),
            mean: 0.0,
            std: 0.0,
            max: 0.0,
            intervals: 0,
            out_of_fold: 0,
            out_of_fold_scale: 1.0,
        },
        unknown_edge_policy: opts.unknown_edge_policy,
        volume: None,
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
    let (oof, fold_nets) = out_of_fold(&samples, &arch, &opts.autoencoder);
    for (edge, std) in model.edges.iter_mut().zip(residual_spreads(&samples, &oof)) {
        edge.residual_std = std;
    }

    // Calibration: the validation intervals, scored by the trained network through the scoring path, and every
    // training interval scored by the network that did not see it.
    let mut scorer = GraphScorer::new(model.clone(), Box::new(ae.clone()));
    // The validation intervals, built once: given events, or the held-out end of the training recording.
    let given = validation.map(|v| build_intervals(v, opts.interval_ns));
    let (validation_graphs, validation_nodes) = match &given {
        Some((vb, graphs)) => (graphs, &vb.nodes),
        None => (&held_out, &builder.nodes),
    };
    let mut validated = Vec::with_capacity(validation_graphs.len());
    for g in validation_graphs {
        validated.push(scorer.score_built_by(g, validation_nodes)?);
    }
    let validated: Vec<IntervalScore> = validated.into_iter().filter(|s| s.unknown_edges.is_empty()).collect();
    let mut validation_scores: Vec<f64> = validated.iter().map(|s| s.score).collect();
    if validation_scores.len() < 2 {
        return Err(GraphTrainError::TooLittle(format!(
            "only {} validation intervals without never-seen edges: give more validation events (--validation) or a larger split",
            validation_scores.len()
        )));
    }
    // The fold networks saw half the data and reconstruct worse than the trained one: their scores are brought to
    // its scale by the ratio of the two on the validation intervals, which neither saw.
    let validation_rows = scorer.features_built_by(validation_graphs, validation_nodes);
    let scale = fold_scale(&validation_rows, &ae, &fold_nets, &model.edges);
    let out_of_fold_scores: Vec<f64> = samples
        .iter()
        .zip(&oof)
        .filter(|(_, y)| !y.is_empty())
        .map(|(x, y)| scale * mean_squared_residual(x, y, &model.edges))
        .collect();
    let validation_count = validation_scores.len();
    let out_of_fold_count = out_of_fold_scores.len();
    validation_scores.extend(out_of_fold_scores);
    let scores = validation_scores;
    let (mean, std) = mean_std(&scores);
    let max = scores.iter().copied().fold(f64::MIN, f64::max);
    model.threshold = Threshold {
        value: (mean + 4.0 * std).max(1.1 * max),
        mean,
        std,
        max,
        intervals: validation_count,
        out_of_fold: out_of_fold_count,
        out_of_fold_scale: scale,
        ..model.threshold
    };
    let mut excess: Vec<f64> = validated
        .iter()
        .map(|s| s.volume.as_ref().map_or(0.0, |v| v.excess))
        .collect();
    excess.extend(out_of_fold_excess(&samples, &model.edges));
    let (mean, std) = mean_std(&excess);
    let max = excess.iter().copied().fold(0.0, f64::max);
    model.volume = Some(VolumeThreshold {
        value: VOLUME_FLOOR.max(mean + 4.0 * std).max(1.1 * max),
        rule: VOLUME_RULE.to_owned(),
        max,
        intervals: excess.len(),
    });
    Ok(Trained { model, autoencoder: ae })
}

/// Every training sample reconstructed by a network that did not see it: two folds of alternating
/// [`FOLD_BLOCK`]-interval blocks, so that neighbouring intervals do not leak into each other. The network fits
/// its training intervals closely; residuals of intervals it saw understate what a new interval of normal
/// operation deviates by. A sample whose fold has no training data gets an empty row.
fn out_of_fold(
    samples: &[Vec<f32>],
    arch: &Architecture,
    settings: &TrainSettings,
) -> (Vec<Vec<f32>>, Vec<Autoencoder>) {
    let mut out = vec![Vec::new(); samples.len()];
    let mut nets = Vec::new();
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
        for (i, x) in samples.iter().enumerate().filter(|(i, _)| fold_of(*i) == fold) {
            out[i] = net.reconstruct(x);
        }
        nets.push(net);
    }
    (out, nets)
}

/// How much better the trained network reconstructs than the fold networks, on intervals none of them saw:
/// the ratio of their mean scores on `validation` (at most 1). Scores of the fold networks times it are what the
/// trained network would have scored on the training intervals, had it not seen them.
fn fold_scale(validation: &[Vec<f32>], trained: &Autoencoder, folds: &[Autoencoder], edges: &[EdgeEntry]) -> f64 {
    if validation.is_empty() || folds.is_empty() {
        return 1.0;
    }
    let mean = |net: &Autoencoder| {
        validation
            .iter()
            .map(|x| mean_squared_residual(x, &net.reconstruct(x), edges))
            .sum::<f64>()
            / validation.len() as f64
    };
    let by_folds = folds.iter().map(mean).sum::<f64>() / folds.len() as f64;
    if by_folds > 0.0 {
        (mean(trained) / by_folds).min(1.0)
    } else {
        1.0
    }
}

/// Each edge's residual spread: the unit its deviations are scored in.
///
/// - **Out of fold** ([`out_of_fold`]): a rare edge the network memorized would be credited with a spread of
///   almost nothing, and every later occurrence would be a deviation of many σ.
/// - **Where active**: only the intervals where the edge is active, or where a network expects it, count. An
///   edge that comes and goes (a snapshot every minute, a checkpoint, a restart) is measured against its spread
///   when it is there; averaged over the intervals where it is absent, its spread would shrink by the square
///   root of its duty cycle.
/// - **Shrunk** towards the pooled spread of all edges, the pool counting as [`PRIOR_INTERVALS`] observations
///   (empirical Bayes): an edge active in three intervals has no spread of its own worth trusting.
fn residual_spreads(samples: &[Vec<f32>], oof: &[Vec<f32>]) -> Vec<f64> {
    let e = samples.first().map_or(0, Vec::len);
    let mut sum_sq = vec![0.0f64; e];
    let mut active = vec![0usize; e];
    for (x, y) in samples.iter().zip(oof).filter(|(_, y)| !y.is_empty()) {
        for (i, (xi, yi)) in x.iter().zip(y).enumerate() {
            if *xi > 0.0 || *yi > EXPECTED_ACTIVE {
                sum_sq[i] += f64::from(xi - yi).powi(2);
                active[i] += 1;
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

/// Each training interval's volume excess (nats) against the busiest interval of the *other* fold: how much more
/// a communication edge carries in normal operation than in every interval a model trained without it has seen.
/// An edge the other fold never had is a never-seen edge to that model, not a volume excess, and is skipped.
fn out_of_fold_excess(samples: &[Vec<f32>], edges: &[EdgeEntry]) -> Vec<f64> {
    let mut busiest = [vec![0.0f32; edges.len()], vec![0.0f32; edges.len()]];
    let mut present = [false; 2];
    for (i, x) in samples.iter().enumerate() {
        present[fold_of(i)] = true;
        for (m, v) in busiest[fold_of(i)].iter_mut().zip(x) {
            *m = m.max(*v);
        }
    }
    if !present.iter().all(|p| *p) {
        return Vec::new(); // one fold only: no interval has another to be compared with
    }
    samples
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let other = &busiest[1 - fold_of(i)];
            x.iter()
                .zip(other)
                .zip(edges)
                .filter(|((v, m), e)| **m > 0.0 && *v > *m && e.is_communication())
                .map(|((v, m), e)| volume_excess_nats(e.bytes_of(*v), e.bytes_of(*m)))
                .fold(0.0, f64::max)
        })
        .collect()
}

/// Intervals per block of the two folds (one minute of 5-second intervals) that the residual spreads, the
/// out-of-fold calibration scores and the volume excess are measured out of.
const FOLD_BLOCK: usize = 12;

/// The fold (0 or 1) of the `i`-th training interval: alternating blocks of [`FOLD_BLOCK`].
fn fold_of(i: usize) -> usize {
    (i / FOLD_BLOCK) % 2
}

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
