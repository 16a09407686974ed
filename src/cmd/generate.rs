//! `spanguard generate`: workloads written as OTLP/JSON lines (one trace per line; `.gz` compresses).

use std::io::Write;
use std::path::PathBuf;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::workload::rng::Rng;
use crate::workload::socialnet::{Kind, PaperSet, SocialNetwork};

/// `spanguard generate socialnet`.
#[derive(clap::Args, Debug)]
pub struct SocialNetArgs {
    /// Output file (`.gz` to compress).
    #[arg(long)]
    pub out: PathBuf,
    /// A data set of the paper: `normal` (Table 1, 1526/420/54), `validation` (300/165/35), `attack` (Table 2,
    /// 30/7/13). Without it, give the mix with --compose/--correct-logins/--incorrect-logins.
    #[arg(long, value_enum)]
    pub set: Option<PaperSet>,
    /// composePost traces.
    #[arg(long, default_value_t = 0)]
    pub compose: usize,
    /// Successful userLogin traces.
    #[arg(long, default_value_t = 0)]
    pub correct_logins: usize,
    /// Failed userLogin traces.
    #[arg(long, default_value_t = 0)]
    pub incorrect_logins: usize,
    /// Random seed (the same seed gives the same file).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Writes requests as OTLP/JSON lines.
pub fn write_jsonl(path: &std::path::Path, requests: &[ExportTraceServiceRequest]) -> anyhow::Result<()> {
    let mut w = super::output::create(path)?;
    for r in requests {
        serde_json::to_writer(&mut w, r)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(())
}

/// Generates the requested social-network traces.
pub fn socialnet_cmd(args: &SocialNetArgs) -> anyhow::Result<usize> {
    let g = SocialNetwork::default();
    let mut rng = Rng::new(args.seed);
    let mix: Vec<(Kind, usize)> = match args.set {
        Some(set) => set.mix().to_vec(),
        None => vec![
            (Kind::ComposePost, args.compose),
            (Kind::CorrectLogin, args.correct_logins),
            (Kind::IncorrectLogin, args.incorrect_logins),
        ],
    };
    let total: usize = mix.iter().map(|(_, n)| n).sum();
    if total == 0 {
        anyhow::bail!("nothing to generate: give --set, or --compose/--correct-logins/--incorrect-logins");
    }
    let requests = g.dataset(&mix, &mut rng, 1_700_000_000_000_000_000);
    write_jsonl(&args.out, &requests)?;
    super::output::report(&args.out, format_args!("{} traces", requests.len()));
    Ok(requests.len())
}

/// `spanguard generate lte`.
#[derive(clap::Args, Debug)]
pub struct LteArgs {
    /// Output file (`.gz` to compress).
    #[arg(long)]
    pub out: PathBuf,
    /// What happens: normal, migration, scale-out, load-swing, genuine-restart (normal variations), or an attack:
    /// sgw-hijack, false-ddn, fake-pgw-restart. Repeat to concatenate stretches in order.
    #[arg(long, value_enum, default_values = ["normal"], num_args = 1..)]
    pub scenario: Vec<crate::workload::lte::Scenario>,
    /// Intervals per scenario stretch.
    #[arg(long, default_value_t = 60)]
    pub intervals: usize,
    /// Interval length.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub interval: std::time::Duration,
    /// Start, seconds since the epoch (default: 2023-11-14T22:13:20Z).
    #[arg(long, default_value_t = 1_700_000_000)]
    pub start: u64,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Generates exchange events of the LTE-like core.
pub fn lte_cmd(args: &LteArgs) -> anyhow::Result<usize> {
    let interval_ns = u64::try_from(args.interval.as_nanos()).unwrap_or(u64::MAX).max(1);
    let mut events = Vec::new();
    let mut t0 = args.start.saturating_mul(1_000_000_000);
    for (i, s) in args.scenario.iter().enumerate() {
        events.extend(crate::workload::lte::events(
            *s,
            t0,
            args.intervals,
            interval_ns,
            args.seed + i as u64,
        ));
        t0 += args.intervals as u64 * interval_ns;
    }
    let mut w = super::output::create(&args.out)?;
    for e in &events {
        serde_json::to_writer(&mut w, e)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    super::output::report(
        &args.out,
        format_args!(
            "{} events in {} intervals",
            events.len(),
            args.intervals * args.scenario.len()
        ),
    );
    Ok(events.len())
}
