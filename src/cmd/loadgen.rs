//! `spanguard loadgen`: live social-network traffic over OTLP/gRPC, with a password-guessing burst now and then —
//! the load generator of the docker-compose example, and a quick way to watch a deployed spanguard flag an attack.
//! Traces carry the current time, so Jaeger shows them as they happen.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::workload::rng::Rng;
use crate::workload::socialnet::SocialNetwork;
use crate::workload::timeline::{normal_kind, password_guessing_kinds};

/// `spanguard loadgen`.
#[derive(clap::Args, Debug)]
pub struct LoadgenArgs {
    /// OTLP/gRPC endpoint to send to (spanguard, or a collector in front of it).
    #[arg(long, default_value = "http://127.0.0.1:4317")]
    pub to: String,
    /// Normal traces per second.
    #[arg(long, default_value_t = 50.0)]
    pub rate: f64,
    /// How long to run (e.g. 10m); until Ctrl-C when absent.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Send a password-guessing burst (a window of 50 traces with 13 failed logins) this often; never if absent.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub attack_every: Option<Duration>,
    /// Seed of the workload, for a reproducible run (the same traces and trace ids every time). Without it each
    /// run draws a fresh seed, so a second run never resends the first one's trace ids (which spanguard would
    /// rightly tag `anomaly.late`).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// What was sent.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sent {
    /// Traces sent.
    pub traces: u64,
    /// Attack bursts sent.
    pub bursts: u64,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// A seed no earlier run used: the clock's nanoseconds mixed with the process id.
fn fresh_seed() -> u64 {
    now_ns() ^ (u64::from(std::process::id()) << 32)
}

/// Runs the load generator.
pub fn loadgen_cmd(args: &LoadgenArgs) -> anyhow::Result<Sent> {
    if !(args.rate > 0.0 && args.rate.is_finite()) {
        anyhow::bail!("--rate must be a positive number of traces per second, e.g. 50");
    }
    let stop = crate::signals::stop_flag()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        // The receiver may still be starting (docker compose, a pod's sidecar): keep trying for a while.
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut client = loop {
            match TraceServiceClient::connect(args.to.clone()).await {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    tracing::warn!(to = %args.to, error = %e, "cannot connect yet; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(e) => return Err(e).with_context(|| format!("cannot connect to {}", args.to)),
            }
        };
        let g = SocialNetwork::default();
        let mut rng = Rng::new(args.seed.unwrap_or_else(fresh_seed));
        let mut sent = Sent::default();
        let start = Instant::now();
        let tick = Duration::from_millis(100);
        let mut next_attack = args.attack_every.map(|d| start + d);
        let mut due = 0.0f64;
        let mut last_report = start;
        loop {
            if stop.load(std::sync::atomic::Ordering::Relaxed) || args.duration.is_some_and(|d| start.elapsed() >= d) {
                break;
            }
            due += args.rate * tick.as_secs_f64();
            let n = due.floor() as usize;
            due -= n as f64;
            let t = now_ns();
            let mut batch: Vec<ExportTraceServiceRequest> = (0..n)
                .map(|i| {
                    g.trace(normal_kind(&mut rng), &mut rng, t + i as u64 * 1_000_000)
                        .build(&mut rng)
                })
                .collect();
            if next_attack.is_some_and(|a| Instant::now() >= a) {
                let kinds = password_guessing_kinds(&mut rng);
                batch.extend(
                    kinds
                        .into_iter()
                        .enumerate()
                        .map(|(i, k)| g.trace(k, &mut rng, t + i as u64 * 1_000_000).build(&mut rng)),
                );
                sent.bursts += 1;
                next_attack = args.attack_every.map(|d| Instant::now() + d);
                println!("loadgen: password-guessing burst #{} sent", sent.bursts);
            }
            if !batch.is_empty() {
                let count = batch.len() as u64;
                let req = ExportTraceServiceRequest {
                    resource_spans: batch.into_iter().flat_map(|r| r.resource_spans).collect(),
                };
                match client.export(req).await {
                    Ok(_) => sent.traces += count,
                    Err(status) => tracing::warn!(%status, traces = count, "export refused; continuing"),
                }
            }
            if last_report.elapsed() >= Duration::from_secs(10) {
                println!("loadgen: {} traces sent", sent.traces);
                last_report = Instant::now();
            }
            tokio::time::sleep(tick).await;
        }
        println!(
            "loadgen: done, {} traces sent ({} password-guessing bursts)",
            sent.traces, sent.bursts
        );
        Ok(sent)
    })
}
