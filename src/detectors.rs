//! Builds the detector chain a config asks for, and the background work some detectors need (the graph
//! detector's event source and scoring thread).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use spanguard_config::{AnomalyConfig, EventSource};
use spanguard_ebpf_probe::{Probe, ProbeConfig, ServiceRule};
use spanguard_processor::evidence::interval_channel;
use spanguard_processor::frequency::{FrequencyDetector, FrequencyModel};
use spanguard_processor::graph::detector::GraphDetector;
use spanguard_processor::graph::feed::{self, Latest};
use spanguard_processor::graph::score::GraphScorer;
use spanguard_processor::{Detector, Detectors};
use spanguard_telemetry::{names, Registry};

/// Reads a counter some component keeps.
type Reading = Box<dyn Fn() -> u64 + Send>;

/// Threads started for the detectors; stopped after the pipeline drained.
#[derive(Default)]
pub struct Background {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
    probe: Option<Probe>,
}

impl Background {
    /// Stops the event sources (the scoring threads end when their source does).
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(p) = self.probe {
            p.stop();
        }
        for t in self.threads {
            let _ = t.join();
        }
    }

    /// Copies counters that another component keeps into the registry, every half second, until stopped.
    fn mirror(&mut self, pairs: Vec<(Reading, spanguard_telemetry::Counter)>) {
        let stop = self.stop.clone();
        self.threads.push(std::thread::spawn(move || {
            let mut seen = vec![0u64; pairs.len()];
            loop {
                for ((src, dst), last) in pairs.iter().zip(seen.iter_mut()) {
                    let now = src();
                    if now > *last {
                        dst.add(now - *last);
                        *last = now;
                    }
                }
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        }));
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

fn probe_config(e: &spanguard_config::EventsConfig) -> ProbeConfig {
    ProbeConfig {
        interval: e.interval,
        scope: crate::cmd::probe::scope(&e.cgroups, &e.pids),
        services: e
            .services
            .iter()
            .map(|(pattern, service)| ServiceRule {
                pattern: pattern.clone(),
                service: service.clone(),
            })
            .collect(),
    }
}

/// The frequency model `processors.<name>.frequency.model` names, read and checked.
fn load_frequency(name: &str, f: &spanguard_config::FrequencyConfig) -> anyhow::Result<FrequencyModel> {
    FrequencyModel::load(&f.model).with_context(|| format!("processors.{name}.frequency.model"))
}

/// The graph model `processors.<name>.graph.model` names, loaded into ONNX Runtime, and its event source checked.
fn load_graph(name: &str, g: &spanguard_config::GraphConfig) -> anyhow::Result<GraphScorer> {
    if g.events.source == EventSource::File && g.events.path.is_none() {
        anyhow::bail!("processors.{name}.graph.events.path: required with source: file (the events file to follow)");
    }
    GraphScorer::from_dir(&g.model).with_context(|| format!("processors.{name}.graph.model"))
}

/// The frequency detector, for people.
fn describe_frequency(f: &spanguard_config::FrequencyConfig, m: &FrequencyModel) -> String {
    format!(
        "frequency detector: {} ({} sequences, {} method)",
        f.model.display(),
        m.sequences.len(),
        match m.method {
            spanguard_processor::frequency::model::Method::Evidence => "evidence",
            spanguard_processor::frequency::model::Method::Threshold => "threshold",
        }
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
pub fn check(name: &str, config: &AnomalyConfig) -> anyhow::Result<Vec<String>> {
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
pub fn build(name: &str, config: &AnomalyConfig, registry: &Registry) -> anyhow::Result<Built> {
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
        match g.events.source {
            EventSource::File => {
                let path = g.events.path.clone().context("checked by load_graph")?;
                let (t, bad) = spanguard_ebpf_probe::file::follow(path, tx, background.stop.clone());
                background.threads.push(t);
                let bad_lines = registry.counter(
                    names::GRAPH_BAD_EVENT_LINES,
                    "Malformed lines skipped by the file event source.",
                    &[],
                );
                background.mirror(vec![(Box::new(move || bad.load(Ordering::Relaxed)), bad_lines)]);
            }
            EventSource::Ebpf => {
                let available = registry.gauge(
                    names::PROBE_AVAILABLE,
                    "1 when the live event source runs.",
                    &[("source", "ebpf")],
                );
                match Probe::start(probe_config(&g.events), tx) {
                    Ok(probe) => {
                        available.set(1);
                        let dropped = |reason| {
                            registry.counter(
                                names::PROBE_DROPPED,
                                "What the eBPF probe could not record.",
                                &[("reason", reason)],
                            )
                        };
                        let read =
                            |f: fn(&spanguard_ebpf_probe::ProbeStats) -> &std::sync::atomic::AtomicU64| -> Reading {
                                let s = probe.stats.clone();
                                Box::new(move || f(&s).load(Ordering::Relaxed))
                            };
                        background.mirror(vec![
                            (
                                read(|s| &s.events),
                                registry.counter(
                                    names::PROBE_EVENTS,
                                    "Events from the live source.",
                                    &[("source", "ebpf")],
                                ),
                            ),
                            (read(|s| &s.ringbuf_drops), dropped("ringbuf_full")),
                            (read(|s| &s.agg_full), dropped("aggregation_map_full")),
                            (read(|s| &s.unresolved), dropped("unresolved_fd")),
                        ]);
                        background.probe = Some(probe);
                    }
                    Err(e) => {
                        // The pipeline keeps running with the other detectors; say so once, and in a metric.
                        available.set(0);
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
                }
            }
            EventSource::Procfs => {
                registry
                    .gauge(
                        names::PROBE_AVAILABLE,
                        "1 when the live event source runs.",
                        &[("source", "procfs")],
                    )
                    .set(1);
                tracing::warn!(
                    "graph detector fed by the procfs fallback: process-level, per-poll events (coarser than eBPF)"
                );
                let c = probe_config(&g.events);
                background.threads.push(spanguard_ebpf_probe::procfs::spawn(
                    c.interval,
                    c.scope,
                    c.services,
                    tx,
                    background.stop.clone(),
                ));
            }
            EventSource::None => drop(tx),
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
