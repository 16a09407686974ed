//! What the people who run spanguard meet, through the real binary: `validate` refuses every config `run` would
//! refuse, with the same message; the load generator never resends an earlier run's trace ids; logs written to
//! a file or a pipe carry no terminal colours; a reader that stops early ends a command quietly.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use spanguard_testkit::sink::Sink;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spanguard"))
}

/// A config with a frequency model at `frequency` and a graph model at `graph` (paths in `dir`), listening on
/// port 0 or on `ports`.
fn config(dir: &Path, frequency: &Path, graph: Option<&Path>, ports: (u16, u16)) -> PathBuf {
    let graph = graph.map_or(String::new(), |g| {
        format!(
            "    graph: {{ model: \"{}\", events: {{ source: none }} }}\n",
            g.display()
        )
    });
    let text = format!(
        r#"receivers:
  otlp:
    protocols:
      grpc: {{ endpoint: "127.0.0.1:{}" }}
      http: {{ endpoint: "127.0.0.1:{}" }}
processors:
  anomaly:
    frequency: {{ model: "{}" }}
{graph}exporters:
  debug: {{}}
service:
  pipelines:
    traces: {{ receivers: [otlp], processors: [anomaly], exporters: [debug] }}
  telemetry:
    metrics: {{ address: "" }}
"#,
        ports.0,
        ports.1,
        frequency.display()
    );
    let path = dir.join(format!("config-{}.yaml", rand_suffix()));
    std::fs::write(&path, text).unwrap();
    path
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// `validate` and `run` on `config`: both must fail, and with the same message.
fn both_refuse(config: &Path, env: &[(&str, &str)]) -> String {
    let run = |cmd: &str| {
        let mut c = bin();
        c.args([cmd, "--config"]).arg(config);
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        assert!(!out.status.success(), "{cmd} accepted {}", config.display());
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        err.lines()
            .find(|l| l.starts_with("spanguard: "))
            .unwrap_or_else(|| panic!("{cmd}: no error line in {err}"))
            .to_owned()
    };
    let (validate, run) = (run("validate"), run("run"));
    assert_eq!(validate, run, "validate says what run says");
    validate
}

/// A trained frequency model, and a graph model directory with its autoencoder.
fn models(dir: &Path) -> (PathBuf, PathBuf) {
    let f = dir.join("frequency.json");
    let out = common::spanguard(&[
        "train",
        "frequency",
        "--traces",
        common::ONLINE_BOUTIQUE,
        "--order",
        "time",
        "--out",
        f.to_str().unwrap(),
    ]);
    assert!(out.contains("frequency model"), "{out}");
    let events = dir.join("events.jsonl");
    common::spanguard(&[
        "generate",
        "lte",
        "--scenario",
        "normal",
        "--intervals",
        "30",
        "--out",
        events.to_str().unwrap(),
    ]);
    let g = dir.join("graph");
    common::spanguard(&[
        "train",
        "graph",
        "--events",
        events.to_str().unwrap(),
        "--interval",
        "5s",
        "--epochs",
        "20",
        "--out",
        g.to_str().unwrap(),
    ]);
    (f, g)
}

#[test]
fn validate_refuses_what_run_refuses_with_the_same_message() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (f, g) = models(d);
    // The good config passes, and says what it loaded.
    let ok = common::spanguard(&[
        "validate",
        "--config",
        config(d, &f, Some(&g), (0, 0)).to_str().unwrap(),
    ]);
    assert!(
        ok.contains("frequency detector") && ok.contains("ONNX Runtime loaded"),
        "{ok}"
    );

    // A frequency model with broken JSON.
    let broken = d.join("broken.json");
    std::fs::write(&broken, "{\"format\":").unwrap();
    let e = both_refuse(&config(d, &broken, None, (0, 0)), &[]);
    assert!(
        e.contains("processors.anomaly.frequency.model") && e.contains("not a spanguard frequency model"),
        "{e}"
    );
    // JSON that is no model at all.
    let hello = d.join("hello.json");
    std::fs::write(&hello, "{\"hello\":1}").unwrap();
    let e = both_refuse(&config(d, &hello, None, (0, 0)), &[]);
    assert!(e.contains("without a \"format\" field"), "{e}");
    // A graph model's directory given as the frequency model, and a frequency model as the graph model.
    let e = both_refuse(&config(d, &g, None, (0, 0)), &[]);
    assert!(e.contains("graph model's directory"), "{e}");
    let e = both_refuse(&config(d, &f, Some(&f), (0, 0)), &[]);
    assert!(
        e.contains("processors.anomaly.graph.model") && e.contains("a frequency model?"),
        "{e}"
    );
    // A truncated autoencoder.
    let truncated = d.join("truncated");
    std::fs::create_dir(&truncated).unwrap();
    std::fs::copy(g.join("graph.json"), truncated.join("graph.json")).unwrap();
    let onnx = std::fs::read(g.join("autoencoder.onnx")).unwrap();
    std::fs::write(truncated.join("autoencoder.onnx"), &onnx[..onnx.len() / 3]).unwrap();
    let e = both_refuse(&config(d, &f, Some(&truncated), (0, 0)), &[]);
    assert!(
        e.contains("autoencoder.onnx") && e.contains("not a loadable ONNX model"),
        "{e}"
    );
    // gRPC and HTTP on one port.
    let e = both_refuse(&config(d, &f, None, (47411, 47411)), &[]);
    assert!(
        e.contains("is also where receivers.otlp.protocols.grpc.endpoint listens"),
        "{e}"
    );
    // A graph model without ONNX Runtime: named once, with where to get it.
    let e = both_refuse(
        &config(d, &f, Some(&g), (0, 0)),
        &[("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")],
    );
    assert!(
        e.contains("ONNX Runtime shared library not found") && e.contains("scripts/setup"),
        "{e}"
    );
    assert_eq!(e.matches("ONNX Runtime").count(), 1, "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_load_generator_runs_send_different_trace_ids() {
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let url = sink.url();
    let ids = |sink: &Sink| -> HashSet<Vec<u8>> {
        common::spans(&sink.requests())
            .into_iter()
            .map(|(_, s)| s.trace_id)
            .collect()
    };
    let run = |url: String| {
        std::thread::spawn(move || {
            let out = bin()
                .args(["loadgen", "--to", &url, "--rate", "200", "--duration", "1s"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        })
        .join()
        .unwrap()
    };
    run(url.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = ids(&sink);
    assert!(first.len() > 50, "{} traces", first.len());
    run(url);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let both = ids(&sink);
    let second = both.len() - first.len();
    assert!(
        second > 50,
        "the second run sent {second} new trace ids: it reused the first one's"
    );
}

#[test]
fn logs_to_a_file_or_pipe_have_no_colours() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.yaml");
    std::fs::write(
        &cfg,
        r#"receivers:
  otlp:
    protocols:
      grpc: { endpoint: "127.0.0.1:0" }
processors:
  anomaly: {}
exporters:
  debug: {}
service:
  pipelines:
    traces: { receivers: [otlp], processors: [anomaly], exporters: [debug] }
  telemetry:
    metrics: { address: "" }
"#,
    )
    .unwrap();
    let mut child = bin()
        .args(["run", "--config"])
        .arg(&cfg)
        .env_remove("NO_COLOR")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let started = line.contains("spanguard running");
        seen.push(line);
        if started {
            break;
        }
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let rest: String = lines.map_while(Result::ok).map(|l| format!("\n{l}")).collect();
    let all = seen.join("\n") + &rest;
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}:\n{all}");
    assert!(!all.contains('\x1b'), "no ANSI escapes in a piped log:\n{all}");
    // And the start-up line is for people: receivers, exporters, detectors, no Rust debug formatting.
    let start = seen.last().unwrap();
    assert!(
        start.contains("receivers=OTLP/gRPC 127.0.0.1:") && start.contains("exporters=debug → log"),
        "{start}"
    );
    assert!(!start.contains("Some(") && !start.contains("None"), "{start}");
}

#[test]
fn a_reader_that_stops_early_ends_the_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let (f, g) = models(dir.path());
    let events = dir.path().join("events.jsonl");
    let check = |args: Vec<&str>| {
        let mut child = bin()
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the first line is written (`| head -1` of a long output, at its extreme):
        // every write fails with a broken pipe.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{args:?} exited {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    check(vec!["inspect", f.to_str().unwrap()]);
    check(vec![
        "score",
        "graph",
        "--model",
        g.to_str().unwrap(),
        "--events",
        events.to_str().unwrap(),
    ]);
    check(vec![
        "score",
        "frequency",
        "--model",
        f.to_str().unwrap(),
        "--traces",
        common::ONLINE_BOUTIQUE,
    ]);
}
