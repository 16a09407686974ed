//! Builds the detector chain a config asks for, and the background work some detectors need (the graph
//! detector's event source and scoring thread).

use spanguard_config::{AnomalyConfig, EventSource};
use spanguard_ebpf_probe::{Running, SourceError};
use spanguard_processor::evidence::interval_channel;
use spanguard_processor::frequency::{FrequencyDetector, FrequencyModel};
use spanguard_processor::graph::detector::GraphDetector;
use spanguard_processor::graph::feed::{self, Latest};
use spanguard_processor::graph::score::GraphScorer;
use spanguard_processor::{Detector, Detectors};
use spanguard_telemetry::Registry;

use crate::PipelineError;

/// What runs beside the pipeline for the detectors (the graph detector's event source and scoring thread);
/// stopped after the pipeline drained.
#[derive(Default)]
pub struct Background {
    source: Option<Running>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Stops the event source; the scoring thread ends when its source does.
    pub fn stop(self) {
        if let Some(s) = self.source {
            s.stop();
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// The detector chain.
pub struct Built {
    /// Detectors in chain order, with the graph feed's channel when the graph detector runs.
    pub detectors: Detectors,
    /// Their background threads.
    pub background: Background,
    /// The graph feed's latest scored interval, for pacing (the demo, tests), when the graph detector runs.
    pub latest: Option<Latest>,
    /// What each detector is, for the start-up log line.
    pub described: Vec<String>,
}

/// The frequency model `processors.<name>.frequency.model` names, read and checked.
fn load_frequency(name: &str, f: &spanguard_config::FrequencyConfig) -> Result<FrequencyModel, PipelineError> {
    FrequencyModel::load(&f.model).map_err(|source| PipelineError::FrequencyModel {
        processor: name.to_owned(),
        source,
    })
}

/// The graph model `processors.<name>.graph.model` names, loaded into ONNX Runtime, and its event source checked.
fn load_graph(name: &str, g: &spanguard_config::GraphConfig) -> Result<GraphScorer, PipelineError> {
    if g.events.source == EventSource::File && g.events.path.is_none() {
        return Err(PipelineError::EventsPath {
            processor: name.to_owned(),
        });
    }
    GraphScorer::from_dir(&g.model).map_err(|source| PipelineError::GraphModel {
        processor: name.to_owned(),
        source,
    })
}

/// The frequency detector, for people.
fn describe_frequency(f: &spanguard_config::FrequencyConfig, m: &FrequencyModel) -> String {
    format!(
        "frequency detector: {} ({} sequences, {} method)",
        f.model.display(),
        m.sequences.len(),
        m.method.name()
    )
}

/// The graph detector, for people.
fn describe_graph(g: &spanguard_config::GraphConfig, scorer: &GraphScorer) -> String {
    format!(
        "graph detector: {} ({} edges, ONNX Runtime loaded the autoencoder), events from {}",
        g.model.display(),
        scorer.model().edges.len(),
        g.events.source.name()
    )
}

/// Everything `build` would load, without starting anything: the models read and checked, the graph model
/// loaded into ONNX Runtime. Returns what each detector is, for `validate` to say.
pub fn check(name: &str, config: &AnomalyConfig) -> Result<Vec<String>, PipelineError> {
    let mut said = Vec::new();
    if let Some(f) = &config.frequency {
        said.push(describe_frequency(f, &load_frequency(name, f)?));
    }
    if let Some(g) = &config.graph {
        said.push(describe_graph(g, &load_graph(name, g)?));
    }
    Ok(said)
}

/// The detectors of `processors.<name>`, in chain order.
pub fn build(name: &str, config: &AnomalyConfig, registry: &Registry) -> Result<Built, PipelineError> {
    let mut chain: Vec<Box<dyn Detector>> = Vec::new();
    let mut background = Background::default();
    let (mut intervals, mut latest) = (None, None);
    let mut described = Vec::new();
    if let Some(f) = &config.frequency {
        let model = load_frequency(name, f)?;
        described.push(describe_frequency(f, &model));
        if model.window != config.window.traces {
            tracing::warn!(
                model_window = model.window,
                window = config.window.traces,
                "the frequency model was trained for windows of {} traces but processors.{name}.window.traces is {}: its threshold assumes the former",
                model.window,
                config.window.traces
            );
        }
        tracing::info!(
            sequences = model.sequences.len(),
            threshold = model.validation.threshold,
            "frequency detector loaded"
        );
        chain.push(Box::new(FrequencyDetector::new(&model)));
    }
    if let Some(g) = &config.graph {
        let scorer = load_graph(name, g)?;
        described.push(describe_graph(g, &scorer));
        let interval_ns = scorer.model().interval_ns();
        tracing::info!(
            edges = scorer.model().edges.len(),
            threshold = scorer.model().threshold.value,
            source = g.events.source.name(),
            "graph detector loaded"
        );
        let (tx, rx) = std::sync::mpsc::sync_channel(65_536);
        match spanguard_ebpf_probe::start(&g.events, registry, tx) {
            Ok(source) => background.source = Some(source),
            Err(SourceError::Probe(e)) => {
                // The pipeline keeps running with the other detectors; say so once, and in a metric.
                tracing::error!(error = %e, "graph detector disabled: its eBPF event source cannot run (spanguard_probe_available=0); the pipeline continues without it");
                described.pop();
                described.push("graph detector: disabled (its eBPF event source cannot run)".to_owned());
                return Ok(Built {
                    detectors: chain.into(),
                    background,
                    latest: None,
                    described,
                });
            }
            Err(source) => {
                return Err(PipelineError::EventSource {
                    processor: name.to_owned(),
                    source,
                })
            }
        }
        let (intervals_tx, intervals_rx) = interval_channel();
        let (thread, feed_latest) = feed::spawn(scorer, rx, intervals_tx, registry);
        background.threads.push(thread);
        chain.push(Box::new(GraphDetector::new(interval_ns)));
        intervals = Some(intervals_rx);
        latest = Some(feed_latest);
    }
    Ok(Built {
        detectors: Detectors { chain, intervals },
        background,
        latest,
        described,
    })
}
