//! The graph detector's results for people: the `score graph` table, the one-line summary `train graph`
//! prints, and `inspect` of a model. JSON output is the results' own `Serialize`; these are the aligned columns.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use serde_json::{json, Value};

use super::model::GraphModel;
use super::score::IntervalScore;

/// What `train graph` learned, in one line: the graph, the network and the rules it calibrated.
pub fn summary(m: &GraphModel) -> String {
    format!(
        "{} training intervals of {} ms ({} events), {} edges in {} microservices, bottleneck {}; final loss {:.5}; threshold {:.4} (calibrated on {} validation and {} out-of-fold training intervals: mean {:.4}, σ {:.4}, max {:.4}); volume rule above {}",
        m.training.intervals,
        m.interval_ms,
        m.training.events,
        m.edges.len(),
        m.groups.len(),
        m.architecture.bottleneck,
        m.training.loss,
        m.threshold.value,
        m.threshold.intervals,
        m.threshold.out_of_fold,
        m.threshold.mean,
        m.threshold.std,
        m.threshold.max,
        m.volume
            .as_ref()
            .map_or("-".to_owned(), |v| format!("×{:.1} the busiest training interval (bytes + 4 KiB)", v.value.exp())),
    )
}

/// `score graph --format table`: one row per interval, what was reconstructed worst, a summary line.
pub fn write_intervals(out: &mut impl Write, scores: &[IntervalScore]) -> io::Result<()> {
    writeln!(
        out,
        "{:>8} {:>10} {:>9} {:>8}  {:<8} worst services; edge missed most (expected → observed bytes)",
        "interval", "score", "threshold", "events", "verdict"
    )?;
    let t0 = scores.first().map_or(0, |s| s.start);
    for s in scores {
        let services: Vec<String> = s
            .services
            .iter()
            .take(3)
            .map(|x| format!("{} {:.2}", x.service, x.error))
            .collect();
        let edge = s.top_edges.first().map_or(String::new(), |e| {
            format!("; {} ({:.0} → {:.0})", e.edge, e.expected, e.observed)
        });
        let unknown = match s.unknown_edges.first() {
            Some(first) => format!("; {} never-seen edge(s): {first}", s.unknown_edges.len()),
            None => String::new(),
        };
        let volume = s
            .volume
            .as_ref()
            .filter(|v| v.over())
            .map_or(String::new(), |v| format!("; more data than ever: {}", v.describe()));
        writeln!(
            out,
            "{:>7.0}s {:>10.3} {:>9.3} {:>8}  {:<8} {}{edge}{unknown}{volume}",
            (s.start.saturating_sub(t0)) as f64 / 1e9,
            s.score,
            s.threshold,
            s.events,
            if s.anomalous { "ANOMALY" } else { "normal" },
            services.join(", ")
        )?;
    }
    let flagged = scores.iter().filter(|s| s.anomalous).count();
    writeln!(out, "{flagged} of {} intervals flagged", scores.len())
}

/// `inspect` of a graph model directory: its graph, microservices, network, rules and `top` heaviest edges,
/// as a JSON object for tools and as text for people.
pub fn inspect(m: &GraphModel, dir: &Path, top: usize) -> (Value, String) {
    let onnx = m.onnx_path(dir);
    let onnx_bytes = std::fs::metadata(&onnx).map(|md| md.len()).ok();
    let mut groups: Vec<(&str, usize)> = m.groups.iter().map(|g| (g.service.as_str(), g.edges.len())).collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.1));
    let mut edges: Vec<&_> = m.edges.iter().collect();
    edges.sort_by(|a, b| b.max_log_bytes.total_cmp(&a.max_log_bytes));
    let heavy: Vec<String> = edges.iter().take(top).map(|e| e.name()).collect();
    let th = &m.threshold;
    let policy = m.unknown_edge_policy.name();
    let json = json!({
        "path": dir.display().to_string(),
        "format": m.format, "version": m.version,
        "interval_ms": m.interval_ms,
        "edges": m.edges.len(),
        "microservices": groups.iter().map(|(s, n)| json!({"service": s, "edges": n})).collect::<Vec<_>>(),
        "architecture": { "hidden": m.architecture.hidden, "bottleneck": m.architecture.bottleneck },
        "threshold": { "value": th.value, "rule": th.rule, "mean": th.mean, "std": th.std, "max": th.max, "intervals": th.intervals, "out_of_fold": th.out_of_fold },
        "volume": m.volume,
        "unknown_edge_policy": policy,
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
    let hidden: Vec<String> = m.architecture.hidden.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        t,
        "  autoencoder     hidden [{}], bottleneck {}; {} epochs, final loss {:.5}; {}",
        hidden.join(", "),
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
    let _ = writeln!(t, "  unknown edges   {policy}");
    let _ = writeln!(t, "  heaviest edges  {}", heavy.join(", "));
    (json, t)
}
