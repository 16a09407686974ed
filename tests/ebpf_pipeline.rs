//! The probe feeding the graph detector: record live events with `spanguard probe`, train on them, then run the
//! pipeline with `graph.events.source: ebpf` — and, without the privileges eBPF needs, the pipeline still runs
//! (frequency detector only), says why once, and exports it as a metric.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use spanguard_testkit::sink::Sink;

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn cgroup(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new("/sys/fs/cgroup/unified").join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a test cgroup");
    dir
}

/// Starts the service pair for `secs` seconds inside `cg`.
fn workload(cg: &std::path::Path, work: &std::path::Path, secs: u32) -> std::process::Child {
    let mut child = Command::new(common::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/service_pair.py"))
        .arg(work)
        .arg(secs.to_string())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(cg.join("cgroup.procs"), child.id().to_string()).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    child
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_train_and_run_with_the_live_probe() {
    if !common::ebpf_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cg = cgroup("spanguard-pipeline");
    // 1. Record 14 s of the workload with the probe CLI.
    let recorded = dir.path().join("normal.jsonl");
    let mut w = workload(&cg, dir.path(), 13);
    let status = Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args([
            "probe",
            "--out",
            recorded.to_str().unwrap(),
            "--duration",
            "14s",
            "--interval",
            "500ms",
            "--cgroup",
        ])
        .arg(&cg)
        .args(["--service", "spanguard-pipeline=shop"])
        .status()
        .unwrap();
    assert!(status.success());
    w.wait().unwrap();
    // 2. Train the graph detector on it.
    let model = dir.path().join("graph");
    let out = Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args([
            "train",
            "graph",
            "--events",
            recorded.to_str().unwrap(),
            "--interval",
            "1s",
            "--epochs",
            "300",
            "--out",
        ])
        .arg(&model)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(model.join("graph.json")).unwrap()).unwrap();
    assert!(
        m["groups"].as_array().unwrap().iter().any(|g| g["service"] == "shop"),
        "{}",
        m["groups"]
    );

    // 3. Run the pipeline with the probe feeding the graph detector, while the workload runs again.
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let text = common::config_text(&sink.url()).replace(
        "window: { traces: 5, timeout: 1s }",
        &format!(
            "window: {{ traces: 5, timeout: 30s }}\n    graph:\n      model: \"{}\"\n      events: {{ source: ebpf, interval: 500ms, cgroups: [\"{}\"], services: {{ spanguard-pipeline: shop }} }}",
            model.display(),
            cg.display()
        ),
    );
    let config = common::parse(&text);
    let registry = spanguard_telemetry::Registry::new();
    let built = spanguard_pipeline::detectors::build("anomaly", &config.processor.config, &registry).unwrap();
    let log = built.latest.clone().expect("the graph detector runs");
    let mut w = workload(&cg, dir.path(), 8);
    assert!(
        common::eventually(Duration::from_secs(20), || log.get().is_some_and(|s| s.events > 0)).await,
        "intervals scored from live events"
    );
    let running = spanguard_pipeline::start(&config, built.detectors, registry)
        .await
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let latest = log.get().unwrap();
    let mut client = common::grpc_client(running.grpc_addrs[0]).await;
    client
        .export(common::request_at(1, 5, 2, "web", latest.start + 1_000))
        .await
        .unwrap();
    // The 10 spans of the window, plus an incident span if the live interval scored anomalous.
    assert!(sink.wait_for(10, Duration::from_secs(10)).await >= 10);
    let metrics = running.registry.render();
    running.shutdown(Duration::from_secs(5)).await;
    built.background.stop();
    w.wait().unwrap();
    let _ = std::fs::remove_dir(&cg);

    assert!(
        latest.end <= now + 2_000_000_000,
        "intervals are live, in wall-clock time"
    );
    assert!(
        metrics.contains("spanguard_probe_available{source=\"ebpf\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("spanguard_probe_events_total{source=\"ebpf\"}"),
        "{metrics}"
    );
    let (incidents, spans): (Vec<_>, Vec<_>) = common::spans(&sink.requests())
        .into_iter()
        .partition(|(service, s)| service == "spanguard" && s.name == "anomaly.window");
    assert_eq!(spans.len(), 10, "every span of the window is forwarded once");
    assert!(incidents.len() <= 1, "at most one incident for the one window");
    for (_, s) in spans.iter().chain(&incidents) {
        assert!(
            matches!(common::attr(s, "anomaly.graph.score"), Some(Value::DoubleValue(v)) if v.is_finite()),
            "{:?}",
            s.attributes
        );
    }
}

#[test]
fn without_privileges_the_pipeline_runs_without_the_graph_detector() {
    if !root() {
        eprintln!("SKIPPED: dropping privileges to test this needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // A graph model the unprivileged process can read.
    let events = dir.path().join("ev.jsonl");
    let model = dir.path().join("graph");
    assert!(Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args([
            "generate",
            "lte",
            "--intervals",
            "12",
            "--interval",
            "1s",
            "--out",
            events.to_str().unwrap()
        ])
        .status()
        .unwrap()
        .success());
    assert!(Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args([
            "train",
            "graph",
            "--events",
            events.to_str().unwrap(),
            "--interval",
            "1s",
            "--epochs",
            "50",
            "--out",
            model.to_str().unwrap()
        ])
        .status()
        .unwrap()
        .success());
    let sink_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            r#"receivers: {{ otlp: {{ protocols: {{ grpc: {{ endpoint: "127.0.0.1:0" }} }} }} }}
processors:
  anomaly:
    graph: {{ model: "{}", events: {{ source: ebpf }} }}
exporters: {{ otlp: {{ endpoint: "http://127.0.0.1:{sink_port}" }} }}
service:
  pipelines: {{ traces: {{ receivers: [otlp], processors: [anomaly], exporters: [otlp] }} }}
  telemetry: {{ metrics: {{ address: "127.0.0.1:0" }} }}
"#,
            model.display()
        ),
    )
    .unwrap();
    for p in [&config, &model.join("graph.json"), &model.join("autoencoder.onnx")] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(&model, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut child = Command::new("setpriv")
        .args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            "--inh-caps=-all",
            "--",
        ])
        .arg(env!("CARGO_BIN_EXE_spanguard"))
        .args(["run", "--config"])
        .arg(&config)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read its log on a thread to the end (a closed pipe would kill it with SIGPIPE on its last line).
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    let mut metrics_addr = None;
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
        let started = line.contains("spanguard running");
        if started {
            // `metrics=http://127.0.0.1:PORT/metrics` on the start-up line.
            metrics_addr = line
                .split("metrics=http://")
                .nth(1)
                .and_then(|s| s.split('/').next())
                .map(str::to_owned);
        }
        log.push(line);
        if started {
            break;
        }
    }
    let body = metrics_addr
        .and_then(|a| reqwest::blocking::get(format!("http://{a}/metrics")).ok())
        .and_then(|r| r.text().ok())
        .unwrap_or_default();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    log.extend(rx.try_iter());
    let all = log.join("\n");
    assert!(status.success(), "it ran, and stopped cleanly:\n{all}");
    assert_eq!(all.matches("graph detector disabled").count(), 1, "said once:\n{all}");
    assert!(
        all.contains("not permitted") && all.contains("CAP_BPF"),
        "and why, and what to do:\n{all}"
    );
    assert!(body.contains("spanguard_probe_available{source=\"ebpf\"} 0"), "{body}");
}
