//! The harness of `spanguard bench`: the same OTLP/gRPC load three ways, side by side in one invocation —
//! (a) generator → sink directly, (b) through spanguard with no detector (pass-through), (c) through spanguard
//! with both detectors — each for `duration` after a warm-up, then drained and checked: spans at the sink must
//! equal spans acknowledged. spanguard runs as a child process so its CPU and memory are its own; throughput is
//! reported per core of spanguard, since the generator and the sink share the same two cores.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use spanguard_config::Compression;

use super::child::{RunConfig, Spanguard};
use super::generator::Generator;
use super::shape::{Shape, Template};
use crate::scratch::{EventWriter, Scratch};
use crate::sink::Sink;
use crate::{models, TestkitError};
use spanguard_processor::model_file::{FREQUENCY_FILE, GRAPH_DIR};

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The spanguard binary the spanguard runs start.
    pub exe: PathBuf,
    /// Measured time per run.
    pub duration: Duration,
    /// Warm-up per run, not measured.
    pub warmup: Duration,
    /// Concurrent gRPC streams of the generator.
    pub streams: usize,
    /// Request shape.
    pub shape: Shape,
    /// Spans/s target over all streams; `None` = as fast as acknowledged.
    pub rate: Option<f64>,
    /// Exporter compressions to run (b) and (c) with.
    pub compressions: Vec<Compression>,
    /// The OnlineBoutique dataset (span shapes).
    pub dataset: PathBuf,
    /// spanguard's trace wait.
    pub trace_wait: Duration,
    /// Models for (c): a directory with `frequency.json` and `graph/`; trained into a scratch directory if absent.
    pub models: Option<PathBuf>,
    /// Soak instead: only (c), for `duration`, with spanguard's memory sampled throughout (see [`soak_report`]).
    pub soak: bool,
    /// `processors.anomaly.memory_limit` of the spanguard runs (e.g. `256MiB`); spanguard's default when absent.
    pub memory_limit: Option<String>,
}

/// One run's measurements.
#[derive(Debug, Clone, Default)]
pub struct RunResult {
    /// "direct", "passthrough" or "detectors".
    pub name: &'static str,
    /// Exporter compression (spanguard runs).
    pub compression: Option<Compression>,
    /// Spans/s delivered to the sink during the measured time.
    pub spans_per_sec: f64,
    /// Cores spanguard used (CPU seconds / wall seconds), spanguard runs only.
    pub cores: Option<f64>,
    /// Latency at the sink beyond the trace wait, µs.
    pub p50_us: Option<u64>,
    /// …99th percentile.
    pub p99_us: Option<u64>,
    /// spanguard's peak RSS, bytes.
    pub peak_rss: Option<u64>,
    /// spanguard's RSS once started, before the load (binary, ONNX Runtime, models, thread stacks), bytes.
    pub idle_rss: Option<u64>,
    /// Memory per in-flight span beyond its encoded size, bytes.
    pub bytes_per_span: Option<f64>,
    /// Spans acknowledged to the generator, and delivered to the sink, over the whole run.
    pub acked: u64,
    /// …delivered.
    pub delivered: u64,
    /// Requests refused (backpressure).
    pub refused: u64,
    /// Most spans seen in trace assembly, and most batches in the exporter queue, while measuring.
    pub max_assembling: f64,
    /// …batches queued for export.
    pub max_export_queue: f64,
    /// spanguard's RSS while measuring: (seconds since the measured time began, bytes), every half second.
    pub rss_samples: Vec<(f64, u64)>,
}

impl RunResult {
    /// Spans/s per core of spanguard.
    pub fn per_core(&self) -> Option<f64> {
        self.cores.filter(|c| *c > 0.0).map(|c| self.spans_per_sec / c)
    }

    /// Nothing lost.
    pub fn lossless(&self) -> bool {
        self.acked == self.delivered
    }
}

/// The exporter's default `send_batch_size`, which the bench config keeps.
const BATCH: usize = 8192;

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Runs the benchmark, printing as it goes; returns the runs in order.
pub async fn run(o: &BenchOptions) -> Result<Vec<RunResult>, TestkitError> {
    let template = Arc::new(Template::from_dataset(&o.dataset, o.shape)?);
    let scratch = Scratch::new("bench")?;
    let models = match &o.models {
        Some(m) => m.clone(),
        None => {
            let dir = scratch.path.join("models");
            println!("training models for the detectors run (once) …");
            // Whole seconds: the graph model's intervals must line up with the live ones.
            models::train_into(&dir, now_ns() / 1_000_000_000 * 1_000_000_000, 1, |_, _, _| {})?;
            // The frequency baseline of the load itself, so windows score as the normal traffic they are.
            train_frequency_on(&template, &dir.join(FREQUENCY_FILE))?;
            dir
        }
    };
    println!(
        "\nspanguard bench: {} s per run after {} s warm-up; {} streams; requests of {} spans ({} traces × {} spans, {} attributes, \
         OnlineBoutique shapes, {} bytes); {}",
        o.duration.as_secs_f64(),
        o.warmup.as_secs_f64(),
        o.streams,
        template.spans,
        o.shape.traces,
        o.shape.spans,
        o.shape.attributes,
        template.encoded_len(),
        o.rate.map(|r| format!("target {r:.0} spans/s")).unwrap_or_else(|| "as fast as acknowledged".into())
    );
    let seq = Arc::new(AtomicU64::new(1));
    if o.soak {
        let compression = o.compressions.first().copied().unwrap_or_default();
        let r = through_spanguard(
            o,
            &template,
            &seq,
            compression,
            Some(models.as_path()),
            scratch.path.as_path(),
        )
        .await?;
        println!("\n{}", header());
        print_row(&r);
        return Ok(vec![r]);
    }
    let mut results = vec![direct(o, &template, &seq).await?];
    print_row(&results[0]);
    for &c in &o.compressions {
        for detectors in [false, true] {
            let r = through_spanguard(
                o,
                &template,
                &seq,
                c,
                detectors.then_some(models.as_path()),
                scratch.path.as_path(),
            )
            .await?;
            print_row(&r);
            results.push(r);
        }
    }
    Ok(results)
}

fn train_frequency_on(template: &Template, path: &Path) -> Result<(), TestkitError> {
    use spanguard_processor::frequency::{train, TrainOptions};
    let requests: Vec<_> = (0..80u64)
        .map(|i| {
            let bytes = template.request(u64::MAX - i, 1_000_000_000 * (i + 1));
            prost::Message::decode(bytes).map_err(TestkitError::Decode)
        })
        .collect::<Result<_, _>>()?;
    let (traces, _) = spanguard_processor::offline::assemble(requests);
    let (train_set, validation) = traces.split_at(traces.len() * 3 / 4);
    let model = train(train_set, validation, &TrainOptions::evidence()).map_err(TestkitError::FrequencyTrain)?;
    model.save(path).map_err(TestkitError::FrequencyModel)
}

async fn direct(o: &BenchOptions, template: &Arc<Template>, seq: &Arc<AtomicU64>) -> Result<RunResult, TestkitError> {
    let sink = start_sink().await?;
    let latency = sink.track_latency();
    let generator = Generator::start(&sink.url(), template.clone(), o.streams, o.rate, seq.clone())?;
    tokio::time::sleep(o.warmup).await;
    latency.reset();
    let (t0, n0) = (Instant::now(), sink.span_count());
    tokio::time::sleep(o.duration).await;
    let (t1, n1) = (Instant::now(), sink.span_count());
    let counts = generator.stop().await;
    let acked = counts.acked.load(std::sync::atomic::Ordering::Relaxed);
    let delivered = sink.wait_for(acked, Duration::from_secs(10)).await;
    Ok(RunResult {
        name: "direct",
        spans_per_sec: (n1 - n0) as f64 / (t1 - t0).as_secs_f64(),
        p50_us: latency.quantile_us(0.5),
        p99_us: latency.quantile_us(0.99),
        acked,
        delivered,
        refused: counts.refused.load(std::sync::atomic::Ordering::Relaxed),
        ..Default::default()
    })
}

async fn through_spanguard(
    o: &BenchOptions,
    template: &Arc<Template>,
    seq: &Arc<AtomicU64>,
    compression: Compression,
    models: Option<&Path>,
    scratch: &Path,
) -> Result<RunResult, TestkitError> {
    let sink = start_sink().await?;
    let latency = sink.track_latency();
    let events = scratch.join("events.jsonl");
    std::fs::write(&events, b"").map_err(|e| TestkitError::io(format!("cannot create {}", events.display()), e))?;
    let q = |p: &Path| serde_json::to_string(&p.display().to_string()).unwrap_or_default();
    let detectors = match models {
        Some(m) => format!(
            "    frequency: {{ model: {} }}\n    graph: {{ model: {}, events: {{ source: file, path: {} }} }}\n",
            q(&m.join(FREQUENCY_FILE)),
            q(&m.join(GRAPH_DIR)),
            q(&events)
        ),
        None => String::new(),
    };
    let compression_name = match compression {
        Compression::Gzip => "gzip",
        _ => "none",
    };
    let run = RunConfig {
        trace_wait: o.trace_wait,
        processor: &format!(
            "    incidents: false\n{}{detectors}",
            o.memory_limit
                .as_ref()
                .map_or(String::new(), |m| format!("    memory_limit: {m}\n"))
        ),
        exporter: &format!("    compression: {compression_name}"),
        log_level: "warn",
    };
    let (sg, endpoint) = Spanguard::launch(&o.exe, scratch, &sink.url(), &run)?;
    // The graph detector follows live exchange events: one second of a normal LTE core per second.
    let feeder = models.map(|_| tokio::spawn(feed_events(events.clone())));
    let (idle_rss, _) = sg.rss();

    let generator = Generator::start(&endpoint, template.clone(), o.streams, o.rate, seq.clone())?;
    tokio::time::sleep(o.warmup).await;
    latency.reset();
    let (t0, n0, c0) = (Instant::now(), sink.span_count(), sg.cpu_seconds());
    // Sample memory against spans in flight while the load runs.
    let mut per_span: Option<f64> = None;
    let mut max_in_flight = 0.0f64;
    let mut max_export_queue = 0.0f64;
    let mut max_held = 0.0f64;
    let mut rss_samples = Vec::new();
    while t0.elapsed() < o.duration {
        tokio::time::sleep(Duration::from_millis(500).min(o.duration)).await;
        let assembling = sg.metric(&spanguard_telemetry::names::PROCESSOR_SPANS_IN_FLIGHT);
        let queued = sg.metric(&spanguard_telemetry::names::EXPORTER_QUEUE_LENGTH);
        max_export_queue = max_export_queue.max(queued);
        max_in_flight = max_in_flight.max(assembling);
        // Spans held: being assembled, plus the export queue's batches (full batches: an upper bound).
        let held = assembling + queued * BATCH as f64;
        let (rss, _) = sg.rss();
        rss_samples.push((t0.elapsed().as_secs_f64(), rss));
        if o.soak && rss_samples.len() % 120 == 0 {
            println!(
                "  {:>4.0} s: RSS {} MiB, {} spans delivered",
                t0.elapsed().as_secs_f64(),
                rss >> 20,
                sink.span_count()
            );
            let _ = std::io::stdout().flush();
        }
        if held > max_held && held > 10_000.0 {
            max_held = held;
            let encoded = template.encoded_len() as f64 / template.spans as f64;
            per_span = Some(rss.saturating_sub(idle_rss) as f64 / held - encoded);
        }
    }
    let (t1, n1, c1) = (Instant::now(), sink.span_count(), sg.cpu_seconds());
    let counts = generator.stop().await;
    let acked = counts.acked.load(std::sync::atomic::Ordering::Relaxed);
    // Drain: the last traces wait out the trace wait and their window's timeout.
    let delivered = sink.wait_for(acked, o.trace_wait + Duration::from_secs(15)).await;
    let (_, peak) = sg.rss();
    let clean = tokio::task::spawn_blocking(move || sg.stop())
        .await
        .map_err(TestkitError::Task)??;
    if let Some(f) = feeder {
        f.abort();
    }
    if !clean {
        eprintln!("warning: spanguard did not exit cleanly after the run");
    }
    let wait_us = o.trace_wait.as_micros() as u64;
    let secs = (t1 - t0).as_secs_f64();
    Ok(RunResult {
        name: if models.is_some() { "detectors" } else { "passthrough" },
        compression: Some(compression),
        spans_per_sec: (n1 - n0) as f64 / secs,
        cores: Some((c1 - c0) / secs),
        p50_us: latency.quantile_us(0.5).map(|v| v.saturating_sub(wait_us)),
        p99_us: latency.quantile_us(0.99).map(|v| v.saturating_sub(wait_us)),
        peak_rss: Some(peak),
        idle_rss: Some(idle_rss),
        bytes_per_span: per_span,
        acked,
        delivered: delivered.min(sink.span_count()),
        refused: counts.refused.load(std::sync::atomic::Ordering::Relaxed),
        max_assembling: max_in_flight,
        max_export_queue,
        rss_samples,
    })
}

/// The benchmark's sink, on a loopback port.
async fn start_sink() -> Result<Sink, TestkitError> {
    Sink::start("127.0.0.1:0", false)
        .await
        .map_err(|e| TestkitError::io("starting the benchmark's sink", e))
}

async fn feed_events(path: PathBuf) {
    use crate::workload::lte::{events, Scenario};
    const SECOND: u64 = 1_000_000_000;
    let Ok(mut writer) = EventWriter::open(&path) else {
        return;
    };
    let mut k = 0u64;
    loop {
        let start = now_ns() / SECOND * SECOND;
        let batch = events(Scenario::Normal, start, 1, SECOND, 7 + k);
        if writer.append(&batch).is_err() {
            return;
        }
        k += 1;
        tokio::time::sleep(Duration::from_millis(1000 - (now_ns() % SECOND) / 1_000_000)).await;
    }
}

fn label(r: &RunResult) -> String {
    match r.compression {
        Some(Compression::Gzip) => format!("{} (gzip export)", r.name),
        Some(_) => format!("{} (no compression)", r.name),
        None => format!("{} (sender → sink)", r.name),
    }
}

fn ms(us: Option<u64>) -> String {
    us.map(|v| format!("{:.1} ms", v as f64 / 1000.0))
        .unwrap_or_else(|| "—".into())
}

/// The table's header.
pub fn header() -> String {
    format!(
        "{:<30} {:>11} {:>7} {:>14} {:>10} {:>10} {:>9} {:>12} {:>14}",
        "run", "spans/s", "cores", "spans/s/core", "p50 +", "p99 +", "peak RSS", "B/span", "lost (acked)"
    )
}

fn print_row(r: &RunResult) {
    if r.name == "direct" {
        println!("\n{}", header());
    }
    println!(
        "{:<30} {:>11.0} {:>7} {:>14} {:>10} {:>10} {:>9} {:>12} {:>14}",
        label(r),
        r.spans_per_sec,
        r.cores.map(|c| format!("{c:.2}")).unwrap_or_else(|| "—".into()),
        r.per_core().map(|v| format!("{v:.0}")).unwrap_or_else(|| "—".into()),
        ms(r.p50_us),
        ms(r.p99_us),
        r.peak_rss
            .map(|b| format!("{} MiB", b >> 20))
            .unwrap_or_else(|| "—".into()),
        r.bytes_per_span
            .map(|b| format!("{b:.0}"))
            .unwrap_or_else(|| "—".into()),
        format!("{} ({})", r.acked.saturating_sub(r.delivered), r.acked),
    );
    if r.cores.is_some() {
        println!(
            "{:<30} at most {:.0} spans assembling, {:.0} batches queued for export; {} requests refused (backpressure); RSS before the load {} MiB",
            "",
            r.max_assembling,
            r.max_export_queue,
            r.refused,
            r.idle_rss.unwrap_or(0) >> 20
        );
    }
    let _ = std::io::stdout().flush();
}

/// A soak's verdict on memory: the median RSS of each full minute, and whether it stayed flat — the last minute's
/// median within max(16 MiB, 10 %) of the second minute's (the first minute is the allocator and the queues
/// filling up to their working size). Last line: `SOAK minutes=… rss_first_mib=… rss_last_mib=… flat=… lost=…`.
pub fn soak_report(r: &RunResult) -> (String, bool) {
    let mut minutes: Vec<Vec<u64>> = Vec::new();
    for &(t, rss) in &r.rss_samples {
        let m = t as usize / 60;
        if minutes.len() <= m {
            minutes.resize(m + 1, Vec::new());
        }
        minutes[m].push(rss);
    }
    // A minute with under half its samples is the tail end of the run (the last sample lands just past the
    // duration): one sample is not a minute's median.
    let medians: Vec<u64> = minutes
        .into_iter()
        .filter(|m| m.len() >= 60)
        .map(|mut m| {
            m.sort_unstable();
            m[m.len() / 2]
        })
        .collect();
    let mut out = String::from("memory by minute (median RSS):");
    for (i, m) in medians.iter().enumerate() {
        out.push_str(&format!(" {}:{}", i + 1, m >> 20));
    }
    out.push_str(" MiB\n");
    let baseline = medians.get(1).or(medians.first()).copied().unwrap_or(0);
    let last = medians.last().copied().unwrap_or(0);
    let allowance = (16u64 << 20).max(baseline / 10);
    let flat = medians.len() >= 2 && last <= baseline + allowance;
    let lost = r.acked.saturating_sub(r.delivered);
    out.push_str(&format!(
        "flat memory: {} (last minute {} MiB vs second minute {} MiB, allowance {} MiB); nothing lost: {}\n",
        if flat { "yes" } else { "NO" },
        last >> 20,
        baseline >> 20,
        allowance >> 20,
        if lost == 0 {
            "yes".to_owned()
        } else {
            format!("NO, {lost} spans missing")
        }
    ));
    out.push_str(&format!(
        "SOAK minutes={} spans={} rss_first_mib={} rss_last_mib={} flat={} lost={lost}",
        medians.len(),
        r.delivered,
        baseline >> 20,
        last >> 20,
        flat
    ));
    (out, flat && lost == 0)
}

/// The summary: ratios, then the machine-readable last line.
pub fn summary(results: &[RunResult]) -> String {
    let find = |name: &str, c: Compression| results.iter().find(|r| r.name == name && r.compression == Some(c));
    let direct = results.iter().find(|r| r.name == "direct");
    let mut out = String::new();
    for c in [Compression::None, Compression::Gzip] {
        if let (Some(p), Some(d)) = (find("passthrough", c), find("detectors", c)) {
            let per = match (d.per_core(), p.per_core()) {
                (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
                _ => "—".into(),
            };
            out.push_str(&format!(
                "ratios ({}): detectors/passthrough = {:.2} (per core {per}); passthrough/direct = {:.2}\n",
                if c == Compression::Gzip {
                    "gzip export"
                } else {
                    "no compression"
                },
                d.spans_per_sec / p.spans_per_sec.max(1.0),
                p.spans_per_sec / direct.map(|d| d.spans_per_sec).unwrap_or(0.0).max(1.0),
            ));
        }
    }
    let lost: u64 = results.iter().map(|r| r.acked.saturating_sub(r.delivered)).sum();
    out.push_str(&format!(
        "nothing lost: {} (spans at the sink = spans acknowledged, every run)\n",
        if lost == 0 {
            "yes".to_owned()
        } else {
            format!("NO, {lost} spans missing")
        }
    ));
    let primary = |name| {
        find(name, Compression::None)
            .or_else(|| results.iter().find(|r| r.name == name))
            .map(|r| r.spans_per_sec)
            .unwrap_or(0.0)
    };
    out.push_str(&format!(
        "RESULT direct={:.0} passthrough={:.0} detectors={:.0}",
        direct.map(|d| d.spans_per_sec).unwrap_or(0.0),
        primary("passthrough"),
        primary("detectors"),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soak(rss_at: impl Fn(f64) -> u64, seconds: u32) -> RunResult {
        RunResult {
            acked: 100,
            delivered: 100,
            rss_samples: (0..seconds * 2)
                .map(|i| f64::from(i) / 2.0)
                .chain([f64::from(seconds) + 0.2])
                .map(|t| (t, rss_at(t)))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_soak_is_flat_only_when_memory_stops_growing_after_the_first_minute() {
        const MIB: u64 = 1 << 20;
        // Filling up in the first minute, then steady with noise; the single sample past the end is ignored.
        let steady = soak(
            |t| {
                if t < 60.0 {
                    100 * MIB
                } else {
                    180 * MIB + (t as u64 % 7) * MIB
                }
            },
            600,
        );
        let (report, ok) = soak_report(&steady);
        assert!(ok, "{report}");
        assert!(report.contains("SOAK minutes=10 "), "{report}");
        // A leak of 5 MiB a minute: 40 MiB over minutes 2..10, beyond the 18 MiB allowance.
        let leaking = soak(|t| 180 * MIB + (t / 12.0) as u64 * MIB, 600);
        let (report, ok) = soak_report(&leaking);
        assert!(!ok, "{report}");
        assert!(report.contains("flat=false"), "{report}");
        // Lost spans fail the soak even with flat memory.
        let lossy = RunResult {
            delivered: 99,
            ..steady
        };
        assert!(!soak_report(&lossy).1);
    }
}
