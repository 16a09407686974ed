//! `spanguard inspect PATH`: what a model contains — for the frequency model its vocabulary, baseline and
//! threshold; for the graph model its edges, microservices, network and threshold; both with their training
//! statistics. PATH is a model file or directory, or a directory holding both (`frequency.json`, `graph/`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::bail;
use serde_json::{json, Value};
use spanguard_processor::frequency::baseline::Statistic;
use spanguard_processor::frequency::model::Method;
use spanguard_processor::frequency::FrequencyModel;
use spanguard_processor::graph::model::GraphModel;

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
    let freq = Some(path.join("frequency.json")).filter(|p| p.is_file());
    let graph = Some(path.join("graph")).filter(|p| GraphModel::json_path(p).is_file());
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
        let (j, t) = frequency(&m, &p, args.top);
        doc.insert("frequency".into(), j);
        text.push_str(&t);
    }
    if let Some(p) = graph {
        let m = GraphModel::load(&p)?;
        let (j, t) = graph_summary(&m, &p, args.top);
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

fn frequency(m: &FrequencyModel, path: &Path, top: usize) -> (Value, String) {
    let services: std::collections::BTreeSet<&str> = m.calls.iter().map(|c| c[0].as_str()).collect();
    let statistic = match m.statistic {
        Statistic::Euclidean => "euclidean (paper eq. 3)".to_owned(),
        Statistic::Chi { min_frequency } => format!("chi (rare sequences pooled below {min_frequency})"),
    };
    let mut by_freq: Vec<&_> = m.sequences.iter().collect();
    by_freq.sort_by(|a, b| b.frequency.total_cmp(&a.frequency));
    let render = |calls: &[u32]| {
        calls
            .iter()
            .map(|&c| {
                m.calls
                    .get(c as usize)
                    .map(|[s, o]| format!("{s}/{o}"))
                    .unwrap_or_else(|| "?".into())
            })
            .collect::<Vec<_>>()
            .join(" → ")
    };
    let shown: Vec<(f64, String)> = by_freq
        .iter()
        .take(top)
        .map(|s| (s.frequency, render(&s.calls)))
        .collect();
    let v = &m.validation;
    let json = json!({
        "path": path.display().to_string(),
        "format": m.format, "version": m.version,
        "window": m.window, "k": m.k, "statistic": statistic,
        "services": services.len(), "operations": m.calls.len(), "sequences": m.sequences.len(),
        "training_traces": m.training.traces, "validation_traces": m.training.validation_traces,
        "validation": { "windows": v.windows, "mean": v.mean, "std": v.std, "threshold": v.threshold },
        "adaptation": { "alpha": m.adaptation.alpha, "confirm_within": m.adaptation.confirm_within },
        "cusum": { "k": m.cusum.reference, "h": m.cusum.threshold },
        "method": match m.method { Method::Evidence => "evidence", Method::Threshold => "threshold" },
        "evidence": m.evidence,
        "top_sequences": shown.iter().map(|(f, s)| json!({"frequency": f, "sequence": s})).collect::<Vec<_>>(),
    });
    let mut t = String::new();
    let _ = writeln!(t, "frequency model  {}  ({} v{})", path.display(), m.format, m.version);
    let _ = writeln!(
        t,
        "  vocabulary      {} services, {} (service, operation) calls, {} distinct sequences",
        services.len(),
        m.calls.len(),
        m.sequences.len()
    );
    let _ = writeln!(
        t,
        "  training        {} traces; {} validation traces in {} windows of {}",
        m.training.traces, m.training.validation_traces, v.windows, m.window
    );
    match m.method {
        Method::Threshold => {
            let _ = writeln!(
                t,
                "  threshold       {:.4} = mean {:.4} + {}·σ {:.4}   statistic: {statistic}",
                v.threshold, v.mean, m.k, v.std
            );
            let _ = writeln!(
                t,
                "  drift           adaptation α {}, re-baselining {}; CUSUM k {} h {}",
                m.adaptation.alpha,
                if m.adaptation.confirm_within == 0 {
                    "off".to_owned()
                } else {
                    format!("after {} windows", m.adaptation.confirm_within)
                },
                m.cusum.reference,
                m.cusum.threshold
            );
        }
        Method::Evidence => {
            let e = &m.evidence;
            let rare = if e.rare.traces > 0.0 {
                100.0 * e.rare.rare_traces / e.rare.traces
            } else {
                0.0
            };
            let _ = writeln!(
                t,
                "  method          evidence: tests at level {} per window, calibrated by the measured scatter φ {:.2}, κ {:.4}",
                e.alpha, e.dispersion.phi, e.dispersion.kappa
            );
            let _ = writeln!(
                t,
                "  rare paths      {rare:.2} % of validation traces had a sequence the reference held less than one trace of"
            );
            let _ = writeln!(
                t,
                "  drift           reference step {}; a regime change confirmed after {} agreeing windows; {} past mixes remembered; CUSUM k {} h {}",
                e.adapt, e.confirm_windows, e.library, e.cusum_reference, e.cusum_threshold
            );
        }
    }
    let _ = writeln!(t, "  most frequent sequences:");
    for (f, s) in &shown {
        let _ = writeln!(t, "    {:>6.2}%  {s}", f * 100.0);
    }
    (json, t)
}

fn graph_summary(m: &GraphModel, dir: &Path, top: usize) -> (Value, String) {
    let onnx = m.onnx_path(dir);
    let onnx_bytes = std::fs::metadata(&onnx).map(|md| md.len()).ok();
    let mut groups: Vec<(&str, usize)> = m.groups.iter().map(|g| (g.service.as_str(), g.edges.len())).collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.1));
    let mut edges: Vec<&_> = m.edges.iter().collect();
    edges.sort_by(|a, b| b.max_log_bytes.total_cmp(&a.max_log_bytes));
    let heavy: Vec<String> = edges.iter().take(top).map(|e| e.name()).collect();
    let th = &m.threshold;
    let json = json!({
        "path": dir.display().to_string(),
        "format": m.format, "version": m.version,
        "interval_ms": m.interval_ms,
        "edges": m.edges.len(),
        "microservices": groups.iter().map(|(s, n)| json!({"service": s, "edges": n})).collect::<Vec<_>>(),
        "architecture": { "hidden": m.architecture.hidden, "bottleneck": m.architecture.bottleneck },
        "threshold": { "value": th.value, "rule": th.rule, "mean": th.mean, "std": th.std, "max": th.max, "intervals": th.intervals, "out_of_fold": th.out_of_fold },
        "volume": m.volume,
        "unknown_edge_policy": format!("{:?}", m.unknown_edge_policy).to_lowercase(),
        "training": { "intervals": m.training.intervals, "events": m.training.events, "epochs": m.training.epochs, "loss": m.training.loss },
        "onnx": { "path": onnx.display().to_string(), "bytes": onnx_bytes },
        "heaviest_edges": heavy,
    });
    let mut t = String::new();
    let _ = writeln!(t, "graph model      {}  ({} v{})", dir.display(), m.format, m.version);
    let _ = writeln!(
        t,
        "  graph           {} edges between roles in {} microservices, intervals of {} ms",
        m.edges.len(),
        groups.len(),
        m.interval_ms
    );
    let _ = writeln!(
        t,
        "  microservices   {}",
        groups
            .iter()
            .map(|(s, n)| format!("{s} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        t,
        "  autoencoder     hidden {:?}, bottleneck {}; {} epochs, final loss {:.5}; {}",
        m.architecture.hidden,
        m.architecture.bottleneck,
        m.training.epochs,
        m.training.loss,
        match onnx_bytes {
            Some(b) => format!("{} ({b} bytes)", onnx.display()),
            None => format!("{} MISSING", onnx.display()),
        }
    );
    let _ = writeln!(
        t,
        "  training        {} intervals, {} events",
        m.training.intervals, m.training.events
    );
    let _ = writeln!(
        t,
        "  threshold       {:.4} ({}; {} validation and {} out-of-fold training intervals: mean {:.4}, σ {:.4}, max {:.4})",
        th.value, th.rule, th.intervals, th.out_of_fold, th.mean, th.std, th.max
    );
    if let Some(v) = &m.volume {
        let _ = writeln!(
            t,
            "  volume rule     a communication edge above ×{:.2} its busiest training interval, bytes + 4 KiB ({}; {} intervals, largest ×{:.2})",
            v.value.exp(),
            v.rule,
            v.intervals,
            v.max.exp()
        );
    }
    let _ = writeln!(
        t,
        "  unknown edges   {}",
        format!("{:?}", m.unknown_edge_policy).to_lowercase()
    );
    let _ = writeln!(t, "  heaviest edges  {}", heavy.join(", "));
    (json, t)
}
