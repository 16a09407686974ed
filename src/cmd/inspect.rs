//! `spanguard inspect PATH`: what a model contains — for the frequency model its vocabulary, baseline and
//! threshold; for the graph model its edges, microservices, network and threshold; both with their training
//! statistics. PATH is a model file or directory, or a directory holding both (`frequency.json`, `graph/`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::bail;
use serde_json::Value;
use spanguard_processor::frequency::FrequencyModel;
use spanguard_processor::graph::model::GraphModel;
use spanguard_processor::model_file::{FREQUENCY_FILE, GRAPH_DIR};

/// `spanguard inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// A frequency model (`frequency.json`), a graph model directory (or its `graph.json`), or a directory with
    /// both.
    pub path: PathBuf,
    /// `text` for people, `json` for tools.
    #[arg(long, value_enum, default_value = "text")]
    pub format: InspectFormat,
    /// Baseline sequences / edges listed.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InspectFormat {
    /// Readable text.
    Text,
    /// One JSON object.
    Json,
}

/// The models found at `path`.
fn find(path: &Path) -> anyhow::Result<(Option<PathBuf>, Option<PathBuf>)> {
    if path.is_file() {
        return Ok(if path.file_name().is_some_and(|n| n == "graph.json") {
            (None, path.parent().map(Path::to_path_buf))
        } else {
            (Some(path.to_path_buf()), None)
        });
    }
    if !path.is_dir() {
        bail!("{}: no such file or directory", path.display());
    }
    if GraphModel::json_path(path).is_file() {
        return Ok((None, Some(path.to_path_buf())));
    }
    let freq = Some(path.join(FREQUENCY_FILE)).filter(|p| p.is_file());
    let graph = Some(path.join(GRAPH_DIR)).filter(|p| GraphModel::json_path(p).is_file());
    if freq.is_none() && graph.is_none() {
        bail!(
            "{}: no model here (expected a frequency model file, a graph model directory with graph.json, or a directory with frequency.json and/or graph/)",
            path.display()
        );
    }
    Ok((freq, graph))
}

/// Runs `inspect`, printing to stdout.
pub fn inspect_cmd(args: &InspectArgs) -> anyhow::Result<()> {
    let (freq, graph) = find(&args.path)?;
    let mut doc = serde_json::Map::new();
    let mut text = String::new();
    if let Some(p) = freq {
        let m = FrequencyModel::load(&p)?;
        let (j, t) = spanguard_processor::frequency::report::inspect(&m, &p, args.top);
        doc.insert("frequency".into(), j);
        text.push_str(&t);
    }
    if let Some(p) = graph {
        let m = GraphModel::load(&p)?;
        let (j, t) = spanguard_processor::graph::report::inspect(&m, &p, args.top);
        doc.insert("graph".into(), j);
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&t);
    }
    match args.format {
        // Written, not printed: a reader that stops early (`inspect … | head -1`) is an error `main` ends quietly
        // on, where `println!` would panic.
        InspectFormat::Json => writeln!(std::io::stdout().lock(), "{}", Value::Object(doc))?,
        InspectFormat::Text => write!(std::io::stdout().lock(), "{text}")?,
    }
    Ok(())
}
