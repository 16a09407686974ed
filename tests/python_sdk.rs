//! Acceptance of the pipeline issue: `spanguard run --config examples/passthrough.yaml` (the example file as
//! shipped) forwards spans sent by the OpenTelemetry *Python* SDK over OTLP/gRPC to an OTLP sink, every span tagged
//! with `anomaly.window.id`; SIGTERM exits 0 after flushing.
//!
//! Needs the Python SDK that `scripts/setup` installs into `.venv` (`SPANGUARD_PYTHON` points at it).

mod common;

use std::process::Command;
use std::time::Duration;

use spanguard_testkit::sink::Sink;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_through_the_passthrough_example() {
    let python = common::python();
    // The example forwards to 127.0.0.1:14317 and listens on the standard OTLP ports.
    let sink = Sink::start("127.0.0.1:14317", true)
        .await
        .expect("port 14317 free for the example's next hop");
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/passthrough.yaml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args(["run", "--config", example])
        .env_remove("SPANGUARD_NEXT_HOP")
        .spawn()
        .expect("spawn spanguard");
    // Wait until it serves.
    let up = common::eventually(Duration::from_secs(20), || {
        std::net::TcpStream::connect("127.0.0.1:4317").is_ok()
    })
    .await;
    assert!(up, "spanguard did not start listening on :4317");

    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args([
                concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/send_traces.py"),
                "http://127.0.0.1:4317",
                "20",
            ])
            .output()
            .expect("run python")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "python SDK failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "60");

    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "SIGTERM must exit 0 after flushing, got {status:?}");

    let spans = common::spans(&sink.requests());
    assert_eq!(spans.len(), 60, "every span forwarded once");
    for (service, span) in &spans {
        assert_eq!(service, "python-shop");
        assert!(
            common::attr(span, "anomaly.window.id").is_some(),
            "{} untagged",
            span.name
        );
    }
}
