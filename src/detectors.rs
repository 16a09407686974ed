//! Builds the detector chain a config asks for, and the background work some detectors need (the graph
//! detector's event source and scoring thread).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use spanguard_config::{AnomalyConfig, EventSource};
use spanguard_processor::frequency::{FrequencyDetector, FrequencyModel};
use spanguard_processor::graph::detector::GraphDetector;
use spanguard_processor::graph::feed::{self, IntervalLog};
use spanguard_processor::graph::score::GraphScorer;
use spanguard_processor::Detector;
use spanguard_telemetry::{names, Registry};

/// Threads started for the detectors; stopped after the pipeline drained.
#[derive(Default)]
pub struct Background {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Background {
    /// Stops the event sources (the scoring threads end when their source does).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// The detector chain.
pub struct Built {
    /// Detectors in chain order.
    pub detectors: Vec<Box<dyn Detector>>,
    /// Their background threads.
    pub background: Background,
    /// The graph detector's scored intervals, when it runs.
    pub intervals: Option<Arc<IntervalLog>>,
}

/// The detectors of `processors.<name>`, in chain order.
pub fn build(name: &str, config: &AnomalyConfig, registry: &Registry) -> anyhow::Result<Built> {
    let mut chain: Vec<Box<dyn Detector>> = Vec::new();
    let mut background = Background::default();
    let mut intervals = None;
    if let Some(f) = &config.frequency {
        let model = FrequencyModel::load(&f.model).with_context(|| format!("processors.{name}.frequency.model"))?;
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
        let key = format!("processors.{name}.graph.model");
        let scorer = GraphScorer::from_dir(&g.model).with_context(|| key.clone())?;
        let interval_ns = scorer.model().interval_ns();
        tracing::info!(
            edges = scorer.model().edges.len(),
            threshold = scorer.model().threshold.value,
            source = ?g.events.source,
            "graph detector loaded"
        );
        let log = IntervalLog::new();
        let (tx, rx) = std::sync::mpsc::sync_channel(65_536);
        match g.events.source {
            EventSource::File => {
                let path = g
                    .events
                    .path
                    .clone()
                    .context("graph.events.path is required with source: file")?;
                let (t, bad) = spanguard_ebpf_probe::file::follow(path, tx, background.stop.clone());
                background.threads.push(t);
                let bad_lines = registry.counter(
                    names::GRAPH_BAD_EVENT_LINES,
                    "Malformed lines skipped by the file event source.",
                    &[],
                );
                let stop = background.stop.clone();
                background.threads.push(std::thread::spawn(move || {
                    let mut seen = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let now = bad.load(Ordering::Relaxed);
                        if now > seen {
                            bad_lines.add(now - seen);
                            tracing::warn!(lines = now - seen, "malformed exchange-event lines skipped");
                            seen = now;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(500));
                    }
                }));
            }
            EventSource::Ebpf => {
                anyhow::bail!("processors.{name}.graph.events.source: ebpf is not available in this build; use source: file with `spanguard probe --out FILE` recording into it");
            }
            EventSource::None => drop(tx),
        }
        background.threads.push(feed::spawn(scorer, rx, log.clone(), registry));
        chain.push(Box::new(GraphDetector::new(log.clone(), interval_ns)));
        intervals = Some(log);
    }
    Ok(Built {
        detectors: chain,
        background,
        intervals,
    })
}
