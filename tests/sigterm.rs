//! The real binary, stopped with SIGTERM while it holds spans: it completes every trace, flushes, exits 0.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use spanguard_testkit::sink::Sink;

/// Starts `spanguard run` on `config_text` and returns the child and its gRPC address (read from its log).
pub fn spawn(config_text: &str, dir: &std::path::Path) -> (std::process::Child, std::net::SocketAddr) {
    let path = dir.join("config.yaml");
    std::fs::write(&path, config_text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args(["run", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spanguard");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("[spanguard] {line}");
            if line.contains("spanguard running") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).expect("spanguard starts");
    // `receivers=OTLP/gRPC 127.0.0.1:PORT, …` on the start-up line.
    let addr = line
        .split("OTLP/gRPC ")
        .nth(1)
        .and_then(|s| s.split([',', ' ']).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no grpc address in {line:?}"));
    (child, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_everything_held_and_exits_zero() {
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Traces wait 60s and windows hold 1000 traces: at SIGTERM, every span is still inside spanguard.
    let text = common::config_text(&sink.url())
        .replace("trace_wait: 200ms", "trace_wait: 60s")
        .replace(
            "window: { traces: 5, timeout: 1s }",
            "window: { traces: 1000, timeout: 60s }",
        );
    let (mut child, addr) = spawn(&text, dir.path());

    let mut client = common::grpc_client(addr).await;
    for i in 0..50 {
        client.export(common::request(i * 4, 4, 5, "svc")).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.span_count(), 0, "nothing leaves before trace_wait");

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(sink.span_count(), 1000, "all 200 traces × 5 spans flushed before exit");
    let spans = common::spans(&sink.requests());
    assert!(spans
        .iter()
        .all(|(_, s)| common::attr(s, "anomaly.window.id").is_some()));
    assert!(
        spans
            .iter()
            .all(|(_, s)| common::attr(s, "anomaly.window.partial").is_some()),
        "shutdown windows are partial"
    );
}
