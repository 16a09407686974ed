//! The graph detector: the exported ONNX model checked by Python's `onnx`, ONNX Runtime's own Python API agreeing
//! with our Rust path, a model built outside our trainer running in our scoring path, and detection and
//! false-alarm rates on the LTE-like core's scenarios.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use spanguard_ebpf_probe::ExchangeEvent;
use spanguard_processor::graph::autoencoder::Autoencoder;
use spanguard_processor::graph::interval::build_intervals;
use spanguard_processor::graph::model::{GraphModel, UnknownEdgePolicy};
use spanguard_processor::graph::runtime::Reconstructor;
use spanguard_processor::graph::score::GraphScorer;
use spanguard_processor::graph::train::{save, train_graph, GraphTrainOptions, Trained};
use spanguard_testkit::workload::lte::{events, Scenario};

const I: u64 = 5_000_000_000;
const T0: u64 = 1_700_000_000_000_000_000;

/// Normal training traffic: steady operation, load swings and genuine restarts (rare but normal).
fn normal_training() -> Vec<ExchangeEvent> {
    let mut v = events(Scenario::Normal, T0, 120, I, 1);
    v.extend(events(Scenario::LoadSwing, T0 + 120 * I, 20, I, 2));
    v.extend(events(Scenario::GenuineRestart, T0 + 140 * I, 40, I, 3));
    v.extend(events(Scenario::Normal, T0 + 180 * I, 30, I, 4));
    v
}

fn validation() -> Vec<ExchangeEvent> {
    let mut v = events(Scenario::Normal, T0 + 1000 * I, 40, I, 5);
    v.extend(events(Scenario::LoadSwing, T0 + 1040 * I, 10, I, 6));
    v.extend(events(Scenario::GenuineRestart, T0 + 1050 * I, 10, I, 7));
    v
}

/// One trained model for all tests, saved to a directory that lives as long as the process.
fn trained() -> &'static (Trained, tempfile::TempDir) {
    static T: OnceLock<(Trained, tempfile::TempDir)> = OnceLock::new();
    T.get_or_init(|| {
        let t = train_graph(
            &normal_training(),
            Some(&validation()),
            &GraphTrainOptions::default(),
            |_, _, _| {},
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        save(&t, dir.path()).unwrap();
        (t, dir)
    })
}

/// Input rows of a few intervals of `scenario`.
fn rows(model: &GraphModel, scenario: Scenario, n: usize) -> Vec<Vec<f32>> {
    let (b, graphs) = build_intervals(&events(scenario, T0 + 5000 * I, n, I, 77), I);
    GraphScorer::new(
        model.clone(),
        Box::new(Autoencoder::new(trained().0.autoencoder.arch.clone(), 0)),
    )
    .features_built_by(&graphs, &b.nodes)
}

fn python_reconstruction(model: &Path, rows: &[Vec<f32>]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rows.json");
    std::fs::write(
        &input,
        serde_json::to_vec(&serde_json::json!({ "rows": rows })).unwrap(),
    )
    .unwrap();
    let out = Command::new(common::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/onnx_check.py"))
        .arg(model)
        .arg(&input)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "onnx_check.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn max_diff(a: &[f32], b: impl IntoIterator<Item = f32>) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn exported_model_passes_onnx_checker_and_matches_python_onnxruntime() {
    let (t, dir) = trained();
    let path = t.model.onnx_path(dir.path());
    let rows = rows(&t.model, Scenario::FakePgwRestart, 6);
    let e = t.model.edges.len();
    // Our Rust network and ONNX Runtime (via ort, in process) agree.
    let mut ort = Reconstructor::load(&path, e).unwrap();
    let flat: Vec<f32> = rows.concat();
    let via_ort = ort.run(&flat, rows.len()).unwrap();
    let via_rust: Vec<f32> = rows.iter().flat_map(|r| t.autoencoder.reconstruct(r)).collect();
    assert!(max_diff(&via_rust, via_ort.iter().copied()) < 1e-5);
    // ONNX's checker accepts the file; ONNX Runtime's own Python API gives the same reconstruction.
    let py = python_reconstruction(&path, &rows);
    assert!(py["opset"].as_i64().unwrap() >= 13);
    assert_eq!(py["inputs"], serde_json::json!(["edges"]));
    assert_eq!(py["outputs"], serde_json::json!(["reconstruction"]));
    let py_flat: Vec<f32> = py["reconstruction"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(py_flat.len(), via_ort.len());
    assert!(max_diff(&via_ort, py_flat) < 1e-5);
}

#[test]
fn a_model_built_outside_our_trainer_runs_in_our_scoring_path() {
    let (t, _) = trained();
    let dir = tempfile::tempdir().unwrap();
    let e = t.model.edges.len();
    let out = Command::new(common::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/external_model.py"))
        .arg(dir.path().join("external.onnx"))
        .arg(e.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "external_model.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut model = t.model.clone();
    model.onnx = "external.onnx".to_owned();
    model.save(dir.path()).unwrap();
    let mut scorer = GraphScorer::from_dir(dir.path()).expect("any model with the contract loads");
    let scores = scorer
        .score_all(&events(Scenario::Normal, T0 + 9000 * I, 4, I, 5))
        .unwrap();
    assert_eq!(scores.len(), 4);
    assert!(scores.iter().all(|s| s.score.is_finite() && s.score > 0.0));
    // And it computes what ONNX Runtime's Python API computes for it.
    let rows = rows(&model, Scenario::Normal, 3);
    let ours = Reconstructor::load(&dir.path().join("external.onnx"), e)
        .unwrap()
        .run(&rows.concat(), 3)
        .unwrap();
    let py = python_reconstruction(&dir.path().join("external.onnx"), &rows);
    let py_flat: Vec<f32> = py["reconstruction"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(max_diff(&ours, py_flat) < 1e-5);
}

#[test]
fn a_model_that_breaks_the_contract_is_refused_clearly() {
    let (t, _) = trained();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/external_model.py"))
        .arg(dir.path().join("narrow.onnx"))
        .arg("3")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = Reconstructor::load(&dir.path().join("narrow.onnx"), t.model.edges.len())
        .err()
        .expect("width mismatch refused");
    let msg = err.to_string();
    assert!(
        msg.contains("narrow.onnx") && msg.contains("expected float32 [N,"),
        "{msg}"
    );
}

/// Per scenario: intervals flagged out of `n`, by the full detector and by the autoencoder alone.
fn flagged(scenario: Scenario, n: usize, seed: u64) -> (usize, usize) {
    let (t, dir) = trained();
    let mut scorer = GraphScorer::from_dir(dir.path()).unwrap();
    let scores = scorer
        .score_all(&events(scenario, T0 + 20_000 * I, n, I, seed))
        .unwrap();
    assert_eq!(scores.len(), n);
    let all = scores.iter().filter(|s| s.anomalous).count();
    let ae_only = scores.iter().filter(|s| s.score > t.model.threshold.value).count();
    (all, ae_only)
}

#[test]
fn scenarios_detection_and_false_alarms() {
    let n = 60;
    let mut report = Vec::new();
    for s in Scenario::ALL {
        let (all, ae) = flagged(s, n, 1000 + s as u64);
        report.push(format!(
            "{:<17} flagged {all:>2}/{n}  (autoencoder alone {ae:>2}/{n})",
            s.name()
        ));
        if s.is_attack() {
            // The paper reports 94–97 % detection; every attack here must be caught by the autoencoder alone.
            assert!(ae * 100 >= 95 * n, "{} detected {ae}/{n} by the autoencoder", s.name());
        } else {
            assert!(all * 100 <= 5 * n, "{} false alarms {all}/{n}", s.name());
        }
    }
    eprintln!("{}", report.join("\n"));
    // Where: the false-DDN attack is blamed on the signalling path, not spread evenly.
    let (t, dir) = trained();
    assert_eq!(t.model.unknown_edge_policy, UnknownEdgePolicy::Communication);
    let mut scorer = GraphScorer::from_dir(dir.path()).unwrap();
    let s = &scorer
        .score_all(&events(Scenario::FalseDdn, T0 + 30_000 * I, 3, I, 9))
        .unwrap()[1];
    let top: Vec<&str> = s.top_edges.iter().map(|e| e.edge.as_str()).collect();
    assert!(top.iter().any(|e| e.contains("paging") || e.contains("s11")), "{top:?}");
}
