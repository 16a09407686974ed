//! `spanguard bench`: throughput, added latency and memory of spanguard against a direct sender → sink baseline
//! (see `spanguard_testkit::bench::run`); the last line is machine-readable: `RESULT direct=… passthrough=… detectors=…`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use spanguard_config::Compression;

use spanguard_testkit::bench::run::{self as bench, BenchOptions};
use spanguard_testkit::bench::shape::Shape;

/// `spanguard bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Measured time of each run (after its warm-up).
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Warm-up of each run, not measured.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// Concurrent OTLP/gRPC streams of the load generator.
    #[arg(long, default_value_t = 8)]
    pub streams: usize,
    /// Traces per request.
    #[arg(long, default_value_t = 64)]
    pub traces_per_request: usize,
    /// Spans per trace (traces × spans = the request's batch size; 64 × 8 = 512).
    #[arg(long, default_value_t = 8)]
    pub spans_per_trace: usize,
    /// Attributes per span.
    #[arg(long, default_value_t = 10)]
    pub attributes: usize,
    /// Target spans/s over all streams (open loop); as fast as acknowledged when absent.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Exporter compression of the spanguard runs: `none`, `gzip` or `both`.
    #[arg(long, default_value = "both")]
    pub compression: String,
    /// Span shapes: the OnlineBoutique dataset.
    #[arg(long, default_value = "datasets/onlineboutique.otlp.jsonl.gz")]
    pub dataset: PathBuf,
    /// spanguard's trace wait (subtracted from the reported latency).
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    pub trace_wait: Duration,
    /// Models for the detectors run (`frequency.json` + `graph/`, e.g. from `spanguard demo --models DIR`);
    /// trained first when absent.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Soak: only the detectors run, for --duration (e.g. 10m; best with a --rate below capacity), with
    /// spanguard's memory sampled every half second; ends with the median RSS of each minute, whether it stayed
    /// flat, and a `SOAK …` line. Exits non-zero when memory grew or a span was lost.
    #[arg(long)]
    pub soak: bool,
    /// `processors.anomaly.memory_limit` of the spanguard runs, e.g. 256MiB or 512MiB (default: spanguard's
    /// own default). The table's peak RSS shows what the limit holds.
    #[arg(long)]
    pub memory_limit: Option<String>,
}

/// Runs the benchmark; prints the table, the ratios and the RESULT line.
pub fn bench_cmd(args: &BenchArgs) -> anyhow::Result<bool> {
    let compressions = match args.compression.as_str() {
        "none" => vec![Compression::None],
        "gzip" => vec![Compression::Gzip],
        "both" => vec![Compression::None, Compression::Gzip],
        other => anyhow::bail!("--compression {other:?}: use none, gzip or both"),
    };
    if !args.dataset.is_file() {
        anyhow::bail!(
            "--dataset {}: not found; run from the repository root or pass the path of onlineboutique.otlp.jsonl.gz",
            args.dataset.display()
        );
    }
    if let Some(m) = &args.models {
        if !spanguard_testkit::models::present(m) {
            anyhow::bail!(
                "--models {}: needs frequency.json and graph/graph.json; write them with `spanguard demo --models {}` \
                 or leave --models out to train them first",
                m.display(),
                m.display()
            );
        }
    }
    let options = BenchOptions {
        exe: std::env::current_exe().context("cannot find the spanguard binary")?,
        duration: args.duration,
        warmup: args.warmup,
        streams: args.streams,
        shape: Shape {
            traces: args.traces_per_request,
            spans: args.spans_per_trace,
            attributes: args.attributes,
        },
        rate: args.rate,
        compressions,
        dataset: args.dataset.clone(),
        trace_wait: args.trace_wait,
        models: args.models.clone(),
        soak: args.soak,
        memory_limit: args.memory_limit.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let results = rt.block_on(bench::run(&options))?;
    if args.soak {
        let Some(run) = results.first() else {
            anyhow::bail!("the soak produced no run");
        };
        let (report, ok) = bench::soak_report(run);
        println!("\n{report}");
        return Ok(ok);
    }
    println!("\n{}", bench::summary(&results));
    Ok(results.iter().all(|r| r.lossless()))
}
