//! `spanguard generate lte | train graph | score graph` through the real binary, and the clear error when ONNX
//! Runtime cannot be found.

use std::path::Path;
use std::process::Command;

fn spanguard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args(args)
        .output()
        .expect("run spanguard")
}

fn ok(args: &[&str]) -> String {
    let out = spanguard(args);
    assert!(
        out.status.success(),
        "spanguard {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn generate_train_score() {
    let dir = tempfile::tempdir().unwrap();
    let f = |n: &str| dir.path().join(n);
    ok(&[
        "generate",
        "lte",
        "--scenario",
        "normal",
        "genuine-restart",
        "normal",
        "--intervals",
        "50",
        "--interval",
        "2s",
        "--out",
        p(&f("normal.jsonl.gz")),
    ]);
    ok(&[
        "generate",
        "lte",
        "--scenario",
        "sgw-hijack",
        "false-ddn",
        "--intervals",
        "5",
        "--interval",
        "2s",
        "--start",
        "1700100000",
        "--seed",
        "4",
        "--out",
        p(&f("attack.jsonl")),
    ]);
    let said = ok(&[
        "train",
        "graph",
        "--events",
        p(&f("normal.jsonl.gz")),
        "--interval",
        "2s",
        "--epochs",
        "600",
        "--out",
        p(&f("model/graph")),
    ]);
    assert!(said.contains("training intervals of 2000 ms"), "{said}");
    assert!(f("model/graph/graph.json").is_file() && f("model/graph/autoencoder.onnx").is_file());
    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f("model/graph/graph.json")).unwrap()).unwrap();
    assert_eq!(model["format"], "spanguard.graph");
    assert_eq!(model["interval_ms"], 2000);
    assert_eq!(model["unknown_edge_policy"], "communication");
    assert!(model["threshold"]["value"].as_f64().unwrap() > 0.0);
    assert_eq!(
        model["groups"].as_array().unwrap().len(),
        6,
        "eNB, MME, HSS, SPGW-C, SPGW-U, UE simulator"
    );

    let out = ok(&[
        "score",
        "graph",
        "--model",
        p(&f("model/graph")),
        "--events",
        p(&f("attack.jsonl")),
    ]);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 10);
    for l in &lines {
        for key in [
            "start",
            "end",
            "score",
            "threshold",
            "anomalous",
            "unknown_edges",
            "services",
            "top_edges",
        ] {
            assert!(l.get(key).is_some(), "{key} missing: {l}");
        }
        assert_eq!(l["anomalous"], true, "{l}");
        assert!(l["services"][0]["service"].is_string() && l["services"][0]["error"].is_number());
    }
    // The hijack's tunnel goes to a gateway outside the application: a never-seen edge, named.
    let unknown = lines[0]["unknown_edges"].as_array().unwrap();
    assert!(
        unknown.iter().any(|u| u.as_str().unwrap().contains("net:udp:2152")),
        "{unknown:?}"
    );
    assert!(lines[0]["top_edges"][0]["edge"].is_string());
}

#[test]
fn missing_onnx_runtime_is_one_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("events.jsonl");
    ok(&[
        "generate",
        "lte",
        "--intervals",
        "12",
        "--interval",
        "1s",
        "--out",
        p(&t),
    ]);
    ok(&[
        "train",
        "graph",
        "--events",
        p(&t),
        "--interval",
        "1s",
        "--epochs",
        "50",
        "--out",
        p(&dir.path().join("m")),
    ]);
    let out = Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args(["score", "graph", "--model", p(&dir.path().join("m")), "--events", p(&t)])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a clean failure, not a panic");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ONNX Runtime shared library not found") && err.contains("scripts/setup"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // And an unreadable events path is named once, not once per layer of error.
    let out = spanguard(&[
        "score",
        "graph",
        "--model",
        p(&dir.path().join("m")),
        "--events",
        p(dir.path()),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("Is a directory").count(), 1, "{err}");
}
