//! `spanguard demo`, the README's first command, through the real binary: it must end successfully (both attacks
//! caught, no false alarm) and leave incident spans in its output that link to the traces of their windows.

use std::collections::HashMap;
use std::process::Command;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use spanguard_processor::attributes::find;
use spanguard_processor::incident::is_incident;
use spanguard_receiver::file::read_trace_file;

#[test]
fn the_demo_catches_both_attacks_and_writes_linked_incidents() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo-out.otlp.jsonl");
    let models = dir.path().join("models");
    let run = Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args(["demo", "--no-color", "--out"])
        .arg(&out)
        .arg("--models")
        .arg(&models)
        .output()
        .expect("run spanguard demo");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "demo failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("password guessing: caught by frequency"), "{stdout}");
    assert!(
        stdout.contains("rogue SGW (user plane hijack): caught by graph"),
        "{stdout}"
    );
    assert!(stdout.contains("normal windows flagged 0"), "{stdout}");
    assert!(models.join("frequency.json").is_file() && models.join("graph/graph.json").is_file());

    // The output: every span of the traffic, tagged; one incident per anomalous window, linking its traces.
    let file = read_trace_file(&out, false).unwrap();
    let mut window_of_trace: HashMap<Vec<u8>, String> = HashMap::new();
    let mut flagged_windows: HashMap<String, usize> = HashMap::new();
    let mut incidents = Vec::new();
    for rs in file.requests.iter().flat_map(|r| &r.resource_spans) {
        for span in rs.scope_spans.iter().flat_map(|s| &s.spans) {
            if is_incident(rs.resource.as_ref(), span) {
                incidents.push(span.clone());
                continue;
            }
            let Some(Value::StringValue(w)) = find(&span.attributes, "anomaly.window.id") else {
                panic!("every span carries its window id")
            };
            window_of_trace.insert(span.trace_id.clone(), w.clone());
            if find(&span.attributes, "anomaly.detected") == Some(&Value::BoolValue(true)) {
                *flagged_windows.entry(w.clone()).or_default() += 1;
            }
        }
    }
    assert_eq!(
        incidents.len(),
        flagged_windows.len(),
        "one incident span per anomalous window"
    );
    for inc in &incidents {
        let Some(Value::StringValue(w)) = find(&inc.attributes, "anomaly.window.id") else {
            panic!("the incident names its window")
        };
        assert!(flagged_windows.contains_key(w), "the incident's window was flagged");
        assert_eq!(inc.links.len(), 50, "links to every trace of the window");
        for link in &inc.links {
            assert_eq!(
                window_of_trace.get(&link.trace_id),
                Some(w),
                "each link leads to a trace of that window"
            );
        }
        assert!(
            matches!(find(&inc.attributes, "anomaly.detectors"), Some(Value::ArrayValue(_))),
            "the incident says which detector fired"
        );
    }

    // Running again with the saved models skips training and reaches the same verdicts.
    let again = Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args(["demo", "--no-color", "--out"])
        .arg(&out)
        .arg("--models")
        .arg(&models)
        .output()
        .expect("run spanguard demo");
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{stdout}");
    assert!(stdout.contains("using the models in"), "{stdout}");
    assert!(!stdout.contains("training the"), "{stdout}");

    // `spanguard inspect` reads back what the demo trained, for people and for tools.
    let inspect = Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .arg("inspect")
        .arg(&models)
        .args(["--format", "json"])
        .output()
        .expect("run spanguard inspect");
    assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&inspect.stdout).expect("one JSON object");
    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("frequency.json")).unwrap()).unwrap();
    assert_eq!(summary["frequency"]["k"], model["k"]);
    assert_eq!(
        summary["frequency"]["sequences"].as_u64(),
        model["sequences"].as_array().map(|a| a.len() as u64),
        "{}",
        summary["frequency"]
    );
    let graph: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("graph/graph.json")).unwrap()).unwrap();
    assert_eq!(
        summary["graph"]["edges"].as_u64(),
        graph["edges"].as_array().map(|a| a.len() as u64),
        "{}",
        summary["graph"]
    );
    let text = Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .arg("inspect")
        .arg(&models)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("threshold") && text.contains("autoencoder"), "{text}");
}
