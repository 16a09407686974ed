//! `spanguard demo`: everything embedded, nothing external. The real pipeline runs in-process on loopback ports;
//! a real OTLP/gRPC client sends it a social network's traces (normal, a password-guessing burst, normal …) while
//! an LTE core's data exchanges (normal, then a user-plane hijack) are appended to the events file the graph
//! detector follows. Every scored window is shown as it happens next to what the demo knows it sent; enriched
//! spans and incident spans go to `demo-out.otlp.jsonl` (and, with `--forward`, to a real collector or Jaeger).
//!
//! Time is simulated: the timeline's steps are one second of span and event timestamps each, played as fast as
//! the pipeline scores them, and placed just before "now" so a Jaeger UI shows them as recent.

pub mod table;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use spanguard_config::Config;
use spanguard_processor::graph::feed::Latest;
use spanguard_processor::incident::is_incident;
use spanguard_processor::WindowReport;
use spanguard_receiver::file::read_trace_file;

use spanguard_processor::model_file::{FREQUENCY_FILE, GRAPH_DIR};
use table::{Outcome, Table};

use crate::models;
use crate::scratch::{EventWriter, Scratch};
use crate::workload::rng::Rng;
use crate::workload::timeline::{self, Step, STEP_NS};
use crate::TestkitError;

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Where the enriched spans go (OTLP/JSON lines; replaced).
    pub out: PathBuf,
    /// Also forward to this OTLP endpoint (`http://host:4317` for gRPC, a `…/v1/traces` URL for HTTP).
    pub forward: Option<String>,
    /// Use the models in this directory, or train and save them there when it has none.
    pub models: Option<PathBuf>,
    /// Seed of the workloads.
    pub seed: u64,
    /// No colours.
    pub no_color: bool,
}

/// What the demo found.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Windows scored.
    pub windows: usize,
    /// Attack windows flagged / all attack windows.
    pub caught: usize,
    /// Attack windows.
    pub attack_windows: usize,
    /// Normal windows flagged.
    pub false_alarms: usize,
    /// Every attack phase raised at least one alarm.
    pub every_attack_caught: bool,
    /// Incident spans in the output, and how many of their links point at traces present in it.
    pub incidents: usize,
    /// Links of incident spans that resolve to a trace in the output.
    pub linked_traces: usize,
    /// Spans in the output, incidents excluded.
    pub spans: usize,
}

impl Summary {
    /// The demo's verdict: every attack caught, no normal window alarmed, incidents written.
    pub fn success(&self) -> bool {
        self.every_attack_caught && self.false_alarms == 0 && self.incidents > 0
    }
}

/// Runs the demo; prints as it goes. `on_epoch(epoch, epochs, loss)` follows the autoencoder's training when the
/// models are trained first.
pub async fn run(o: &DemoOptions, on_epoch: impl FnMut(usize, usize, f32)) -> Result<Summary, TestkitError> {
    let started = Instant::now();
    let steps = timeline::timeline();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    // Whole seconds, ending a few seconds ago.
    let t0 = (now / STEP_NS - steps.len() as u64 - 5) * STEP_NS;

    let scratch = Scratch::new("demo")?;
    let models = match &o.models {
        Some(dir) => dir.clone(),
        None => scratch.path.join("models"),
    };
    if models::present(&models) {
        println!("using the models in {}", models.display());
    } else {
        models::train_into(&models, t0, o.seed, on_epoch)?;
    }

    let events_path = scratch.path.join("events.jsonl");
    std::fs::File::create(&events_path)
        .map_err(|e| TestkitError::io(format!("cannot create {}", events_path.display()), e))?;
    if o.out.exists() {
        std::fs::remove_file(&o.out).map_err(|e| TestkitError::io(format!("cannot replace {}", o.out.display()), e))?;
    }
    let config = config(&models, &events_path, &o.out, o.forward.as_deref())?;
    let registry = spanguard_telemetry::Registry::new();
    let built = spanguard_pipeline::detectors::build("anomaly", &config.processor.config, &registry)?;
    let latest = built.latest.clone().ok_or(TestkitError::GraphDisabled)?;
    let running = spanguard_pipeline::start(&config, built.detectors, registry).await?;
    let mut reports = running.reports.resubscribe();
    let grpc = running
        .grpc_addrs
        .first()
        .ok_or_else(|| TestkitError::Stalled("the demo's pipeline has no gRPC receiver".to_owned()))?;
    let mut client = TraceServiceClient::connect(format!("http://{grpc}"))
        .await
        .map_err(TestkitError::Connect)?;
    println!(
        "\nspanguard listening on {grpc} (OTLP/gRPC) and {} (OTLP/HTTP); playing {} one-second steps of {} traces\n",
        running.http_addrs.first().map(ToString::to_string).unwrap_or_default(),
        steps.len(),
        timeline::TRACES_PER_STEP
    );

    let mut rng = Rng::new(o.seed);
    let events = timeline::step_events(&steps, t0, o.seed);
    let mut writer = EventWriter::open(&events_path)?;
    writer.append(&events[0])?;
    let table = Table::new(o.no_color);
    println!("{}", table.header());
    let mut played: Vec<(usize, Arc<WindowReport>, Outcome, Duration)> = Vec::new();
    for (k, step) in steps.iter().enumerate() {
        // The graph detector scores an interval once the next one begins: give it step k+1's first events,
        // then wait for interval k's verdict before the window of step k is scored.
        if let Some(next) = events.get(k + 1) {
            writer.append(next)?;
        }
        wait_for_interval(&latest, t0 + (k as u64 + 1) * STEP_NS).await?;
        let sent = Instant::now();
        for batch in timeline::step_traces(step, k, t0, &mut rng).chunks(10) {
            client
                .export(merge(batch))
                .await
                .map_err(|e| TestkitError::Refused(Box::new(e)))?;
        }
        let report = next_report(&mut reports).await?;
        let attack = steps_of(&report, t0, &steps).iter().any(Step::is_attack);
        let outcome = Outcome::of(attack, report.detected);
        println!("{}", table.row(k + 1, step.label(), &report, outcome));
        played.push((k, report, outcome, sent.elapsed()));
    }
    drop(client);
    let shutdown = running.shutdown(Duration::from_secs(10)).await;
    built.background.stop();
    if !shutdown.clean || shutdown.dropped_spans > 0 {
        eprintln!(
            "warning: {} span(s) could not be delivered{}",
            shutdown.dropped_spans,
            o.forward
                .as_deref()
                .map(|f| format!(" (is {f} reachable?)"))
                .unwrap_or_default()
        );
    }

    let mut summary = summarize(&steps, &played);
    count_output(&o.out, &mut summary)?;
    print_summary(&steps, &played, &summary, o, started.elapsed());
    Ok(summary)
}

/// The steps a window's spans fall in.
fn steps_of<'a>(r: &WindowReport, t0: u64, steps: &'a [Step]) -> &'a [Step] {
    let index = |ns: u64| ((ns.saturating_sub(t0)) / STEP_NS) as usize;
    let (a, b) = (index(r.start_ns), index(r.end_ns.saturating_sub(1)));
    let last = steps.len().saturating_sub(1);
    &steps[a.min(last)..=b.min(last)]
}

fn merge(batch: &[ExportTraceServiceRequest]) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: batch.iter().flat_map(|r| r.resource_spans.iter().cloned()).collect(),
    }
}

async fn wait_for_interval(latest: &Latest, end: u64) -> Result<(), TestkitError> {
    let deadline = Instant::now() + Duration::from_secs(15);
    while latest.get().is_none_or(|s| s.end < end) {
        if Instant::now() > deadline {
            return Err(TestkitError::Stalled(format!(
                "the graph detector scored no interval ending at {end} within 15 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn next_report(
    reports: &mut tokio::sync::broadcast::Receiver<Arc<WindowReport>>,
) -> Result<Arc<WindowReport>, TestkitError> {
    match tokio::time::timeout(Duration::from_secs(20), reports.recv()).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(TestkitError::Reports(e)),
        Err(_) => Err(TestkitError::Stalled("no window was scored within 20 s".to_owned())),
    }
}

fn summarize(steps: &[Step], played: &[(usize, Arc<WindowReport>, Outcome, Duration)]) -> Summary {
    let mut s = Summary {
        windows: played.len(),
        every_attack_caught: true,
        ..Summary::default()
    };
    for (_, _, outcome, _) in played {
        match outcome {
            Outcome::Caught => {
                s.caught += 1;
                s.attack_windows += 1;
            }
            Outcome::Missed => s.attack_windows += 1,
            Outcome::FalseAlarm => s.false_alarms += 1,
            Outcome::Quiet => {}
        }
    }
    for (first, len) in phases(steps).into_iter().filter(|(f, _)| steps[*f].is_attack()) {
        let caught = played
            .iter()
            .any(|(k, _, o, _)| (first..first + len).contains(k) && *o == Outcome::Caught);
        s.every_attack_caught &= caught;
    }
    s
}

/// Runs of equal steps: (first index, length).
fn phases(steps: &[Step]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (i, s) in steps.iter().enumerate() {
        match out.last_mut() {
            Some((f, n)) if steps[*f] == *s => *n += 1,
            _ => out.push((i, 1)),
        }
    }
    out
}

/// Reads the output back: spans, incident spans, and whether the incidents' links lead to traces in it.
fn count_output(path: &Path, s: &mut Summary) -> Result<(), TestkitError> {
    let file = read_trace_file(path, false).map_err(|source| TestkitError::ReadBack {
        path: path.display().to_string(),
        source,
    })?;
    let mut traces = std::collections::HashSet::new();
    let mut links = Vec::new();
    for rs in file.requests.iter().flat_map(|r| &r.resource_spans) {
        for span in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            if is_incident(rs.resource.as_ref(), span) {
                s.incidents += 1;
                links.extend(span.links.iter().map(|l| l.trace_id.clone()));
            } else {
                s.spans += 1;
                traces.insert(span.trace_id.clone());
            }
        }
    }
    s.linked_traces = links.iter().filter(|t| traces.contains(*t)).count();
    if s.linked_traces < links.len() {
        return Err(TestkitError::BrokenLinks {
            missing: links.len() - s.linked_traces,
            path: path.display().to_string(),
        });
    }
    Ok(())
}

fn print_summary(
    steps: &[Step],
    played: &[(usize, Arc<WindowReport>, Outcome, Duration)],
    s: &Summary,
    o: &DemoOptions,
    took: Duration,
) {
    println!("\nsummary");
    println!(
        "  windows scored: {} — attack windows flagged {}/{}, normal windows flagged {} (false alarms)",
        s.windows, s.caught, s.attack_windows, s.false_alarms
    );
    for (first, len) in phases(steps).into_iter().filter(|(f, _)| steps[*f].is_attack()) {
        let hit = played
            .iter()
            .find(|(k, _, o, _)| (first..first + len).contains(k) && *o == Outcome::Caught);
        match hit {
            Some((k, r, _, latency)) => {
                let by: Vec<&str> = r.scores.iter().filter(|x| x.anomalous).map(|x| x.detector).collect();
                println!(
                    "  {}: caught by {} in window {} of {} (simulated delay {} s; alarm {} ms after its traces were sent)",
                    steps[first].label(),
                    by.join("+"),
                    k - first + 1,
                    len,
                    k - first + 1,
                    latency.as_millis()
                );
            }
            None => println!("  {}: MISSED", steps[first].label()),
        }
    }
    println!(
        "  {}: {} spans + {} incident span(s) (service spanguard, anomaly.window), linking {} traces",
        o.out.display(),
        s.spans,
        s.incidents,
        s.linked_traces
    );
    if let Some(f) = &o.forward {
        println!("  forwarded to {f}: in Jaeger, search service=spanguard, or tags anomaly.detected=true");
    }
    println!(
        "  {} in {:.1} s",
        if s.success() {
            "demo passed: every attack caught, no false alarm"
        } else {
            "demo FAILED"
        },
        took.as_secs_f64()
    );
}

/// The pipeline's config: loopback ports, both detectors, the file exporter (and the forward one).
fn config(models: &Path, events: &Path, out: &Path, forward: Option<&str>) -> Result<Config, TestkitError> {
    let q = |p: &Path| serde_json::to_string(&p.display().to_string()).unwrap_or_default();
    let mut exporters = format!("  file:\n    path: {}\n", q(out));
    let mut names = vec!["file"];
    if let Some(url) = forward {
        let kind = if url.contains("/v1/traces") { "otlphttp" } else { "otlp" };
        let key = if kind == "otlp" { "endpoint" } else { "traces_endpoint" };
        exporters.push_str(&format!(
            "  {kind}/forward:\n    {key}: {}\n    retry_on_failure: {{ max_elapsed_time: 5s }}\n",
            serde_json::to_string(url).unwrap_or_default()
        ));
        names.push(if kind == "otlp" {
            "otlp/forward"
        } else {
            "otlphttp/forward"
        });
    }
    let text = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{ endpoint: "127.0.0.1:0" }}
      http: {{ endpoint: "127.0.0.1:0" }}
processors:
  anomaly:
    trace_wait: 250ms
    window: {{ traces: {traces}, timeout: 30s }}
    frequency: {{ model: {freq} }}
    graph: {{ model: {graph}, events: {{ source: file, path: {events} }} }}
exporters:
{exporters}
service:
  pipelines:
    traces: {{ receivers: [otlp], processors: [anomaly], exporters: [{names}] }}
  telemetry:
    metrics: {{ address: "" }}
"#,
        traces = timeline::TRACES_PER_STEP,
        freq = q(&models.join(FREQUENCY_FILE)),
        graph = q(&models.join(GRAPH_DIR)),
        events = q(events),
        names = names.join(", "),
    );
    Config::from_yaml(&text, |_| None).map_err(TestkitError::Config)
}
