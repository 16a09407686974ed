//! `spanguard`: the command line. Thin by design: parse, set up logging, call into the library.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use spanguard::cmd;
use spanguard_config::{Config, LogEncoding};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// mimalloc rather than glibc's malloc: buffers are allocated on the receiving threads and freed on the
/// exporter's after export (request bodies, record batches), the pattern glibc's arenas handle worst. Measured
/// when spans were still decoded (a string per attribute), glibc spent a fifth of the pass-through's CPU in
/// malloc/free and consolidation (perf, `spanguard bench`, BENCHMARKS.md); not re-measured since spans stay
/// encoded.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "spanguard",
    version,
    about = "A drop-in OTLP pipeline stage that scores trace windows for security anomalies and tags every span."
)]
struct Cli {
    /// Log line format (overrides service.telemetry.logs.encoding).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogEncoding>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything embedded, nothing external: the pipeline on loopback, live traffic with two attacks, a live
    /// table of verdicts; exits 0 when both attacks are caught without a false alarm.
    Demo(cmd::demo::DemoArgs),
    /// Run the pipeline: receive OTLP, score windows, forward enriched spans.
    Run {
        /// Collector-shaped YAML config.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Check a config without starting anything.
    Validate {
        /// Collector-shaped YAML config.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Train a detector model from normal traffic.
    #[command(subcommand)]
    Train(TrainCommand),
    /// Score a trace file with a trained model.
    #[command(subcommand)]
    Score(ScoreCommand),
    /// Measure detection and false-alarm rates on normal and attack traffic.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Write a synthetic workload as OTLP/JSON lines.
    #[command(subcommand)]
    Generate(GenerateCommand),
    /// Send live social-network traffic over OTLP/gRPC, with a password-guessing burst now and then.
    Loadgen(cmd::loadgen::LoadgenArgs),
    /// Throughput, added latency and memory: direct vs through spanguard (pass-through, then both detectors).
    Bench(cmd::bench::BenchArgs),
    /// Print what a model contains: vocabulary, threshold, training statistics.
    Inspect(cmd::inspect::InspectArgs),
    /// Record live data-exchange events from the kernel (eBPF; root, or CAP_BPF+CAP_PERFMON to load and
    /// CAP_SYS_PTRACE+CAP_DAC_READ_SEARCH to resolve other users' fds).
    Probe(cmd::probe::ProbeArgs),
}

#[derive(Subcommand)]
enum TrainCommand {
    /// The frequency detector (ICISSP'21): sequence frequencies of normal traces.
    Frequency(cmd::frequency::TrainArgs),
    /// The graph detector (DistAppGuard, ACSAC'21): an autoencoder of normal data-exchange graphs, as ONNX.
    Graph(cmd::graph::TrainArgs),
}

#[derive(Subcommand)]
enum ScoreCommand {
    /// Prints one JSON line (or table row) per window of consecutive traces.
    Frequency(cmd::frequency::ScoreArgs),
    /// Prints one JSON line per interval of exchange events (inference with ONNX Runtime).
    Graph(cmd::graph::ScoreArgs),
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Detection rate, false-alarm rate and windows to detection, for each --window and --k.
    Frequency(cmd::frequency::EvalArgs),
}

#[derive(Subcommand)]
enum GenerateCommand {
    /// Traces shaped like the paper's DeathStarBench social network (composePost, userLogin).
    Socialnet(cmd::generate::SocialNetArgs),
    /// Exchange events of a distributed LTE-like core, normal or under one of DistAppGuard's attacks.
    Lte(cmd::generate::LteArgs),
}

fn init_logs(level: &str, encoding: LogEncoding, flag: Option<LogEncoding>) {
    // `RUST_LOG` directives (`info,spanguard_exporter=debug`) override the configured level. `Targets` parses
    // them without a regex engine, which keeps a cold build of the binary lighter.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|directives| directives.parse::<Targets>().ok())
        .or_else(|| level.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(tracing::Level::INFO));
    let json = flag.unwrap_or(encoding) == LogEncoding::Json;
    // Colours only for people at a terminal, and never when NO_COLOR is set (no-color.org): a log file or a
    // pipe gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(ansi);
    if json {
        builder.json().finish().with(filter).init();
    } else {
        builder.finish().with(filter).init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match real_main(cli) {
        Ok(code) => code,
        // A closed stdout (`spanguard score … | head`) ends the command quietly, as for any Unix tool.
        Err(e) if broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spanguard: {}", render(&e));
            ExitCode::from(2)
        }
    }
}

/// The error is standard output closed by its reader (`spanguard score … | head`): the command ends quietly, as
/// any Unix tool does, whether the write failed directly or inside the JSON encoder.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind)
            .or_else(|| {
                c.downcast_ref::<serde_json::Error>()
                    .and_then(serde_json::Error::io_error_kind)
            })
            == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, each cause once: many errors already quote their cause in their own
/// message, and printing the chain would repeat it.
fn render(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

fn real_main(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate { config } => {
            // Every check `run` makes short of binding sockets: the config (keys, values, listeners, TLS files),
            // then the models it names, read and loaded as `run` loads them.
            let c = Config::load(&config)?;
            let detectors = spanguard_pipeline::detectors::check(&c.processor.name, &c.processor.config)?;
            println!(
                "{}: ok ({} receiver(s), {} exporter(s), window of {} traces)",
                config.display(),
                c.receivers.len(),
                c.exporters.len(),
                c.processor.config.window.traces
            );
            for d in detectors {
                println!("  {d}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Train(TrainCommand::Frequency(args)) => {
            init_logs("warn", LogEncoding::Console, cli.log_format);
            cmd::frequency::train_cmd(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Score(ScoreCommand::Frequency(args)) => {
            init_logs("warn", LogEncoding::Console, cli.log_format);
            cmd::frequency::score_cmd(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval(EvalCommand::Frequency(args)) => {
            init_logs("warn", LogEncoding::Console, cli.log_format);
            cmd::frequency::eval_cmd(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Train(TrainCommand::Graph(args)) => {
            init_logs("warn", LogEncoding::Console, cli.log_format);
            cmd::graph::train_cmd(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Score(ScoreCommand::Graph(args)) => {
            init_logs("warn", LogEncoding::Console, cli.log_format);
            cmd::graph::score_cmd(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(GenerateCommand::Lte(args)) => {
            cmd::generate::lte_cmd(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(GenerateCommand::Socialnet(args)) => {
            cmd::generate::socialnet_cmd(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => {
            init_logs("error", LogEncoding::Console, cli.log_format);
            let summary = cmd::demo::demo_cmd(&args)?;
            Ok(if summary.success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Loadgen(args) => {
            init_logs("warn", LogEncoding::Console, cli.log_format);
            cmd::loadgen::loadgen_cmd(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => {
            init_logs("warn", LogEncoding::Console, cli.log_format);
            Ok(if cmd::bench::bench_cmd(&args)? {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Inspect(args) => {
            cmd::inspect::inspect_cmd(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Probe(args) => {
            init_logs("warn", LogEncoding::Console, cli.log_format);
            cmd::probe::probe_cmd(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { config } => {
            let c = Config::load(&config)?;
            init_logs(
                &c.service.telemetry.logs.level,
                c.service.telemetry.logs.encoding,
                cli.log_format,
            );
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            rt.block_on(run(c))
        }
    }
}

async fn run(config: Config) -> anyhow::Result<ExitCode> {
    // Listening for signals before anything starts: a SIGTERM right after the start-up line (an orchestrator's
    // quick stop) must drain, not kill the process with the default action.
    let signals = Signals::listen()?;
    let registry = spanguard_telemetry::Registry::new();
    let built = spanguard_pipeline::detectors::build(&config.processor.name, &config.processor.config, &registry)?;
    let described = built.described.join("; ");
    let running = spanguard_pipeline::start(&config, built.detectors, registry).await?;
    let join =
        |addrs: &[std::net::SocketAddr], what: &str| addrs.iter().map(|a| format!("{what} {a}")).collect::<Vec<_>>();
    let mut receivers = join(&running.grpc_addrs, "OTLP/gRPC");
    receivers.extend(join(&running.http_addrs, "OTLP/HTTP"));
    let exporters: Vec<String> = config
        .exporters
        .iter()
        .map(|e| format!("{} → {}", e.name, e.config.destination()))
        .collect();
    tracing::info!(
        receivers = %receivers.join(", "),
        exporters = %exporters.join(", "),
        detectors = %if described.is_empty() { "none (pass-through)" } else { described.as_str() },
        metrics = %running.metrics_addr.map_or_else(|| "off".to_owned(), |a| format!("http://{a}/metrics")),
        "spanguard running"
    );
    signals.wait().await;
    tracing::info!("signal received: draining");
    let report = running.shutdown(config.service.shutdown_timeout).await;
    built.background.stop();
    if report.clean {
        tracing::info!(dropped_spans = report.dropped_spans, "stopped");
        Ok(ExitCode::SUCCESS)
    } else {
        tracing::error!(
            dropped_spans = report.dropped_spans,
            "stopped before everything was delivered"
        );
        Ok(ExitCode::from(1))
    }
}

/// SIGTERM and SIGINT, registered with tokio.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
    }
}
