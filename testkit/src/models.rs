//! The models `spanguard demo` and `spanguard bench` run with: trained from normal traffic of the demo's own
//! workloads (seconds on two cores), or loaded from a directory a previous run saved them in (`--models DIR`).

use std::path::Path;

use spanguard_processor::frequency::{train, FrequencyModel, TrainOptions};
use spanguard_processor::graph::autoencoder::TrainSettings;
use spanguard_processor::graph::model::GraphModel;
use spanguard_processor::graph::train::{save, train_graph, GraphTrainOptions};
use spanguard_processor::offline::assemble;

use crate::workload::lte::{events, Scenario};
use crate::workload::rng::Rng;
use crate::workload::timeline::{normal_traces, STEP_NS, TRACES_PER_STEP};
use crate::TestkitError;
use spanguard_processor::model_file::{FREQUENCY_FILE, GRAPH_DIR};

/// Normal traces to learn the baseline from, and validation windows to set the threshold on.
const TRAINING_TRACES: usize = 3_000;
const VALIDATION_WINDOWS: usize = 40;
/// Normal intervals (with genuine restarts, which are rare but normal) and validation intervals.
const TRAINING_INTERVALS: u64 = 200;
const RESTART_INTERVALS: u64 = 40;
const VALIDATION_INTERVALS: u64 = 150;
/// Epochs of the autoencoder's training.
pub const EPOCHS: usize = 800;

/// Both models are in `dir` (from an earlier run or `spanguard train`).
pub fn present(dir: &Path) -> bool {
    dir.join(FREQUENCY_FILE).is_file() && GraphModel::json_path(&dir.join(GRAPH_DIR)).is_file()
}

/// Trains both models into `dir`, far in the past of `t0` (the timeline's start), saying what it does on stdout;
/// `progress(epoch, epochs, loss)` follows the autoencoder's training.
pub fn train_into(
    dir: &Path,
    t0: u64,
    seed: u64,
    mut progress: impl FnMut(usize, usize, f32),
) -> Result<(), TestkitError> {
    std::fs::create_dir_all(dir).map_err(|e| TestkitError::io(format!("cannot create {}", dir.display()), e))?;

    // Frequency: spanguard's defaults (the evidence method), exactly as `spanguard train frequency` trains.
    println!(
        "training the frequency detector on {TRAINING_TRACES} normal traces, threshold from {VALIDATION_WINDOWS} validation windows …"
    );
    let mut rng = Rng::new(seed ^ 0xf4e9);
    let day = 86_400 * STEP_NS;
    let (normal, _) = assemble(normal_traces(TRAINING_TRACES, t0 - 3 * day, &mut rng));
    let (validation, _) = assemble(normal_traces(
        VALIDATION_WINDOWS * TRACES_PER_STEP,
        t0 - 2 * day,
        &mut rng,
    ));
    let opts = TrainOptions {
        window: TRACES_PER_STEP,
        ..TrainOptions::evidence()
    };
    let model = train(&normal, &validation, &opts).map_err(TestkitError::FrequencyTrain)?;
    model
        .save(&dir.join(FREQUENCY_FILE))
        .map_err(TestkitError::FrequencyModel)?;
    describe_frequency(&model);

    // Graph: one-second intervals of the LTE core's normal operation.
    let s = STEP_NS;
    let base = t0 - day;
    let mut normal = events(Scenario::Normal, base, TRAINING_INTERVALS as usize, s, seed ^ 1);
    normal.extend(events(
        Scenario::GenuineRestart,
        base + TRAINING_INTERVALS * s,
        RESTART_INTERVALS as usize,
        s,
        seed ^ 2,
    ));
    let v0 = base + (TRAINING_INTERVALS + RESTART_INTERVALS + 10) * s;
    let mut validation = events(Scenario::Normal, v0, VALIDATION_INTERVALS as usize, s, seed ^ 3);
    validation.extend(events(
        Scenario::GenuineRestart,
        v0 + VALIDATION_INTERVALS * s,
        30,
        s,
        seed ^ 4,
    ));
    println!(
        "training the graph detector's autoencoder on {} normal intervals ({} exchange events) …",
        TRAINING_INTERVALS + RESTART_INTERVALS,
        normal.len()
    );
    let opts = GraphTrainOptions {
        interval_ns: s,
        autoencoder: TrainSettings {
            epochs: EPOCHS,
            ..TrainSettings::default()
        },
        ..GraphTrainOptions::default()
    };
    let trained = train_graph(&normal, Some(&validation), &opts, &mut progress).map_err(TestkitError::GraphTrain)?;
    save(&trained, &dir.join(GRAPH_DIR)).map_err(TestkitError::GraphModel)?;
    let m = &trained.model;
    println!(
        "  {} edges in {} microservices; threshold {:.3} (validation mean {:.3}, max {:.3}) → {}",
        m.edges.len(),
        m.groups.len(),
        m.threshold.value,
        m.threshold.mean,
        m.threshold.max,
        dir.join(GRAPH_DIR).display()
    );
    Ok(())
}

fn describe_frequency(model: &FrequencyModel) {
    let e = &model.evidence;
    println!(
        "  {} distinct call sequences; normal windows scatter φ {:.2} around the reference (1 = multinomial); alarms at level {} per window",
        model.training.unique_sequences, e.dispersion.phi, e.alpha
    );
}
