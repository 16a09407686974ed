//! The processor task: one owner of all assembly state, driven by its input channel and a ticker. It never
//! drops a span: when the exporters are slow it waits on its output, its input channel fills, and the receivers
//! answer with backpressure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use spanguard_config::AnomalyConfig;
use spanguard_telemetry::{Counter, Registry};
use tokio::sync::{broadcast, mpsc};

use crate::assembly::{Assembler, Completion};
use crate::detector::shorten;
use crate::enrich::{enrich, window_attributes};
use crate::evidence::IntervalReceiver;
use crate::graph::score::IntervalScore;
use crate::incident::incident;
use crate::late::Forwarded;
use crate::metrics::ProcessorMetrics;
use crate::record::Appended;
use crate::{
    attributes, Contribution, Detector, Detectors, Evidence, Request, SpanRecord, Trace, Window, WindowScore, Windower,
};

/// One detector's verdict, as reported to observers (the demo's live table, logs).
#[derive(Debug, Clone, Serialize)]
pub struct ScoreReport {
    /// Detector name.
    pub detector: &'static str,
    /// Fired or not.
    pub anomalous: bool,
    /// Its score.
    pub score: f64,
    /// Its threshold.
    pub threshold: f64,
    /// Largest contributions.
    pub top: Vec<Contribution>,
}

/// What happened to one window, for observers.
#[derive(Debug, Clone, Serialize)]
pub struct WindowReport {
    /// Window id (`anomaly.window.id`).
    pub id: String,
    /// Sequence number in this run.
    pub seq: u64,
    /// Traces in it.
    pub traces: usize,
    /// Spans in it.
    pub spans: usize,
    /// Closed before filling.
    pub partial: bool,
    /// Earliest span start, ns.
    pub start_ns: u64,
    /// Latest span end, ns.
    pub end_ns: u64,
    /// Any detector fired.
    pub detected: bool,
    /// Per-detector verdicts.
    pub scores: Vec<ScoreReport>,
}

/// The processor: assembly, windowing, detection, enrichment.
pub struct Processor {
    assembler: Assembler,
    windower: Windower,
    forwarded: Forwarded,
    detectors: Vec<(Box<dyn Detector>, Counter)>,
    /// The second input as received so far (the graph feed's scored intervals).
    evidence: Evidence,
    /// Where it comes from, until [`Processor::run`] takes it into its loop.
    intervals: Option<IntervalReceiver>,
    metrics: ProcessorMetrics,
    reports: broadcast::Sender<Arc<WindowReport>>,
    tick: Duration,
    incidents: bool,
    /// `anomaly.late = true`, encoded once.
    late: Arc<Appended>,
}

/// A handle observers use to follow scored windows; lagging observers lose old reports, never slow the pipeline.
pub type ProcessorHandle = broadcast::Receiver<Arc<WindowReport>>;

impl Processor {
    /// A processor with `detectors` in chain order, and their second input if they have one.
    pub fn new(config: &AnomalyConfig, detectors: impl Into<Detectors>, registry: &Registry) -> Self {
        let metrics = ProcessorMetrics::new(registry);
        let run = format!("{:08x}", rand::random::<u32>());
        let Detectors { chain, intervals } = detectors.into();
        let detectors = chain
            .into_iter()
            .map(|d| {
                let c = metrics.anomalies(d.name());
                (d, c)
            })
            .collect();
        let tick = (config.trace_wait.min(config.window.timeout) / 10)
            .clamp(Duration::from_millis(5), Duration::from_millis(100));
        Self {
            assembler: Assembler::new(config.trace_wait, config.max_traces, config.max_spans),
            windower: Windower::new(config.window.traces, config.window.timeout, run),
            forwarded: Forwarded::new(config.max_traces),
            detectors,
            evidence: Evidence::default(),
            intervals,
            metrics,
            reports: broadcast::channel(1024).0,
            tick,
            incidents: config.incidents,
            late: Arc::new(Appended::new(&[attributes::boolean(attributes::LATE, true)])),
        }
    }

    /// Follow scored windows.
    pub fn subscribe(&self) -> ProcessorHandle {
        self.reports.subscribe()
    }

    /// Runs until `input` is closed (all receivers stopped), then completes every trace and window, forwards
    /// them, and returns. Dropping `output` then tells the exporters to flush.
    ///
    /// Two inputs, one loop: span batches, and the graph feed's scored intervals. Before spans are taken in or
    /// windows closed, every interval that has arrived is added to the evidence, so a window is judged by all
    /// the intervals sent before it closed.
    pub async fn run(mut self, mut input: mpsc::Receiver<Vec<SpanRecord>>, output: mpsc::Sender<Vec<SpanRecord>>) {
        let mut ticker = tokio::time::interval(self.tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut intervals = self.intervals.take();
        let mut outbox: Vec<Vec<SpanRecord>> = Vec::new();
        loop {
            tokio::select! {
                biased;
                msg = input.recv() => match msg {
                    Some(req) => {
                        let now = Instant::now();
                        self.absorb(&mut intervals);
                        self.ingest(req, now, &mut outbox);
                        // Under sustained input the ticker branch may rarely win: expire here too.
                        self.advance(now, &mut outbox);
                    }
                    None => break,
                },
                Some(interval) = next_interval(&mut intervals) => self.add_interval(interval),
                _ = ticker.tick() => {
                    self.absorb(&mut intervals);
                    self.advance(Instant::now(), &mut outbox);
                }
            }
            if !Self::send_all(&output, &mut outbox).await {
                return;
            }
        }
        self.absorb(&mut intervals);
        self.drain(&mut outbox);
        Self::send_all(&output, &mut outbox).await;
        tracing::info!("processor drained");
    }

    /// Adds one scored interval to the evidence windows are judged by.
    pub fn add_interval(&mut self, interval: Arc<IntervalScore>) {
        self.evidence.push_interval(interval);
    }

    /// Takes every interval waiting on the channel.
    fn absorb(&mut self, intervals: &mut Option<IntervalReceiver>) {
        if let Some(rx) = intervals {
            while let Ok(s) = rx.try_recv() {
                self.evidence.push_interval(s);
            }
        }
    }

    async fn send_all(output: &mpsc::Sender<Vec<SpanRecord>>, outbox: &mut Vec<Vec<SpanRecord>>) -> bool {
        for req in outbox.drain(..) {
            if output.send(req).await.is_err() {
                tracing::error!("exporters stopped before the processor; remaining spans cannot be forwarded");
                return false;
            }
        }
        true
    }

    /// Takes in one request's spans at `now`.
    pub fn ingest(&mut self, records: Vec<SpanRecord>, now: Instant, outbox: &mut Vec<Vec<SpanRecord>>) {
        let mut late: Vec<SpanRecord> = Vec::new();
        let mut completed: Vec<(Trace, Completion)> = Vec::new();
        for mut rec in records {
            let id = *rec.trace_id();
            if let Some(attrs) = self.forwarded.get(&id) {
                rec.append(Arc::clone(attrs));
                rec.append(Arc::clone(&self.late));
                late.push(rec);
            } else {
                self.assembler.add(id, rec, now, &mut |t, why| completed.push((t, why)));
            }
        }
        if !late.is_empty() {
            self.metrics.late_spans.add(late.len() as u64);
            self.metrics.forwarded_spans.add(late.len() as u64);
            outbox.push(late);
        }
        for (trace, why) in completed {
            self.complete(trace, why, now, outbox);
        }
        self.update_gauges();
    }

    /// Completes due traces and times out the open window.
    pub fn advance(&mut self, now: Instant, outbox: &mut Vec<Vec<SpanRecord>>) {
        if self.assembler.next_deadline().is_some_and(|d| d <= now) {
            let mut completed = Vec::new();
            self.assembler.expire(now, &mut |t, why| completed.push((t, why)));
            for (trace, why) in completed {
                self.complete(trace, why, now, outbox);
            }
            self.update_gauges();
        }
        if let Some(w) = self.windower.tick(now) {
            self.score_and_forward(w, outbox);
        }
    }

    /// Completes everything in flight (shutdown).
    pub fn drain(&mut self, outbox: &mut Vec<Vec<SpanRecord>>) {
        let now = Instant::now();
        let mut completed = Vec::new();
        self.assembler.drain(&mut |t, why| completed.push((t, why)));
        for (trace, why) in completed {
            self.complete(trace, why, now, outbox);
        }
        if let Some(w) = self.windower.flush() {
            self.score_and_forward(w, outbox);
        }
        self.update_gauges();
    }

    fn complete(&mut self, trace: Trace, why: Completion, now: Instant, outbox: &mut Vec<Vec<SpanRecord>>) {
        self.metrics.completed(why).inc();
        if why == Completion::MaxTraces || why == Completion::MaxSpans {
            tracing::debug!(
                ?why,
                "trace completed early: raise processors.anomaly.max_traces/max_spans if frequent"
            );
        }
        if let Some(w) = self.windower.push(trace, now) {
            self.score_and_forward(w, outbox);
        }
    }

    fn score_and_forward(&mut self, window: Window, outbox: &mut Vec<Vec<SpanRecord>>) {
        let evidence = &self.evidence;
        let scores: Vec<WindowScore> = self
            .detectors
            .iter_mut()
            .map(|(d, _)| d.score(&window, evidence))
            .collect();
        for ((_, fired), s) in self.detectors.iter().zip(&scores) {
            if s.anomalous {
                fired.inc();
            }
        }
        if window.partial {
            self.metrics.windows_partial.inc();
        } else {
            self.metrics.windows_full.inc();
        }
        let attrs = window_attributes(&window, &scores);
        let report = WindowReport {
            id: window.id.clone(),
            seq: window.seq,
            traces: window.traces.len(),
            spans: window.span_count(),
            partial: window.partial,
            start_ns: window.start_ns(),
            end_ns: window.end_ns(),
            detected: scores.iter().any(|s| s.anomalous),
            scores: scores
                .iter()
                .map(|s| ScoreReport {
                    detector: s.detector,
                    anomalous: s.anomalous,
                    score: s.score,
                    threshold: s.threshold,
                    top: s.top.clone(),
                })
                .collect(),
        };
        if report.detected {
            // For the person reading the log: which detectors, how far over their threshold, and why.
            let verdicts: Vec<String> = scores
                .iter()
                .filter(|s| s.anomalous)
                .map(|s| {
                    let top = s.top.first().map_or(String::new(), |c| {
                        format!(
                            ", top: {} ({:.4} vs {:.4} expected)",
                            shorten(&c.label, 120),
                            c.observed,
                            c.expected
                        )
                    });
                    format!("{} {:.3} over {:.3}{top}", s.detector, s.score, s.threshold)
                })
                .collect();
            tracing::warn!(
                window = %report.id,
                traces = report.traces,
                detectors = %verdicts.join("; "),
                "anomalous window"
            );
        }
        let shared = Arc::new(Appended::new(&attrs));
        for t in &window.traces {
            self.forwarded.remember(t.id, Arc::clone(&shared));
        }
        let incident = if self.incidents {
            incident(&window, &scores, &attrs)
        } else {
            None
        };
        let mut records = enrich(window, &scores, &attrs, &shared);
        self.metrics.forwarded_spans.add(records.len() as u64);
        if let Some(rs) = incident {
            match spanguard_otlp::from_request(&Request {
                resource_spans: vec![rs],
            }) {
                Ok(spans) => {
                    self.metrics.incidents.inc();
                    records.extend(spans);
                }
                Err(e) => tracing::error!(error = %e, "cannot encode the incident span"),
            }
        }
        outbox.push(records);
        let _ = self.reports.send(Arc::new(report));
    }

    fn update_gauges(&self) {
        self.metrics
            .traces_in_flight
            .set(self.assembler.traces_in_flight() as i64);
        self.metrics
            .spans_in_flight
            .set(self.assembler.spans_in_flight() as i64);
    }
}

/// The next interval from the feed; pending forever without a feed, or once it has stopped.
async fn next_interval(intervals: &mut Option<IntervalReceiver>) -> Option<Arc<IntervalScore>> {
    if let Some(rx) = intervals {
        if let Some(s) = rx.recv().await {
            return Some(s);
        }
        *intervals = None;
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::detector::GraphDetector;
    use opentelemetry_proto::tonic::trace::v1::Span;

    const S: u64 = 1_000_000_000;

    fn interval(start: u64, anomalous: bool) -> Arc<IntervalScore> {
        Arc::new(IntervalScore {
            start,
            end: start + S,
            score: if anomalous { 9.0 } else { 1.0 },
            threshold: 2.0,
            anomalous,
            unknown_edges: Vec::new(),
            services: Vec::new(),
            top_edges: Vec::new(),
            events: 1,
            volume: None,
        })
    }

    /// One single-span trace starting at `at` ns.
    fn trace(id: u8, at: u64) -> SpanRecord {
        let span = Span {
            trace_id: vec![id; 16],
            span_id: vec![id; 8],
            start_time_unix_nano: at,
            end_time_unix_nano: at + 1_000,
            ..Default::default()
        };
        SpanRecord::from_span(Default::default(), Default::default(), &span).expect("a valid span")
    }

    /// Feeds the two inputs in one order (intervals 0–9 s, the one at 5 s anomalous; a window of traces in each
    /// second) and returns each window's graph verdict.
    fn replay() -> Vec<(bool, u64)> {
        let config = AnomalyConfig {
            window: spanguard_config::WindowConfig {
                traces: 4,
                timeout: Duration::from_secs(3600),
            },
            ..AnomalyConfig::default()
        };
        let detectors: Vec<Box<dyn Detector>> = vec![Box::new(GraphDetector::new(S))];
        let mut p = Processor::new(&config, detectors, &Registry::new());
        let mut reports = p.subscribe();
        let mut outbox = Vec::new();
        let now = Instant::now();
        for second in 0..10u64 {
            p.add_interval(interval(second * S, second == 5));
            let batch = (0..4u8)
                .map(|k| trace(second as u8 * 4 + k + 1, second * S + 100))
                .collect();
            p.ingest(batch, now, &mut outbox);
        }
        p.drain(&mut outbox);
        let mut verdicts = Vec::new();
        while let Ok(r) = reports.try_recv() {
            verdicts.push((r.detected, r.start_ns / S));
        }
        verdicts.sort_by_key(|v| v.1);
        verdicts
    }

    #[test]
    fn the_same_spans_and_intervals_give_the_same_verdicts() {
        let first = replay();
        assert_eq!(first.len(), 10, "{first:?}");
        // The window of second 5 takes the anomalous interval's verdict, and only it.
        let flagged: Vec<u64> = first.iter().filter(|v| v.0).map(|v| v.1).collect();
        assert_eq!(flagged, vec![5]);
        assert_eq!(replay(), first);
    }
}
