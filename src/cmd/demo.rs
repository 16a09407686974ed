//! `spanguard demo`: the arguments; the demo itself is [`spanguard_testkit::demo`].

use std::path::PathBuf;

use spanguard_testkit::demo::{self, DemoOptions, Summary};
use spanguard_testkit::models::EPOCHS;

use crate::progress::Bar;

/// `spanguard demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Where to write the enriched spans and incident spans (OTLP/JSON lines; replaced).
    #[arg(long, default_value = "demo-out.otlp.jsonl")]
    pub out: PathBuf,
    /// Also send them to a collector or Jaeger: `http://host:4317` (OTLP/gRPC) or `http://host:4318/v1/traces`
    /// (OTLP/HTTP).
    #[arg(long)]
    pub forward: Option<String>,
    /// Use the models in this directory; when it has none, train them and save them there.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Seed of the workloads (the same seed plays the same traffic).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// No colours in the table (also with NO_COLOR set, or when stdout is not a terminal).
    #[arg(long)]
    pub no_color: bool,
}

/// Runs the demo.
pub fn demo_cmd(args: &DemoArgs) -> anyhow::Result<Summary> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let options = DemoOptions {
        out: args.out.clone(),
        forward: args.forward.clone(),
        models: args.models.clone(),
        seed: args.seed,
        no_color: args.no_color,
    };
    let bar = Bar::new(EPOCHS as u64, "  autoencoder");
    let summary = rt.block_on(demo::run(&options, |epoch, epochs, loss| {
        let done = epoch as u64 + 1;
        bar.set(done, &format!("epoch {done}/{epochs}, loss {loss:.4}"));
        if done == epochs as u64 {
            bar.finish();
        }
    }))?;
    Ok(summary)
}
