//! TLS and mutual TLS over real sockets, with certificates made for the test (rcgen): spanguard's receiver
//! (`receivers.otlp.protocols.*.tls`) against two independent TLS stacks — the OpenTelemetry Python SDK over
//! grpcio and Python's `ssl` — and spanguard's own exporters (`exporters.*.tls`, `https://`) against that
//! receiver. Clients without a certificate from the trusted CA, and plaintext clients, are refused and counted.
//!
//! Needs the Python SDK that `scripts/setup` installs into `.venv`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use spanguard_telemetry::names;
use spanguard_testkit::sink::Sink;

/// A CA and what it signed, written as PEM files.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// `ca.pem`; `server.pem`/`server.key` (localhost, 127.0.0.1); `client.pem`/`client.key` from the same CA;
    /// `rogue-client.pem`/`.key` from another CA.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (ca, ca_key) = make_ca("spanguard test CA");
        let (rogue_ca, rogue_key) = make_ca("someone else's CA");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        let leaf = |file: &str, names: Vec<String>, issuer: &rcgen::Certificate, issuer_key: &KeyPair| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
            params.distinguished_name.push(DnType::CommonName, file);
            let cert = params.signed_by(&key, issuer, issuer_key).unwrap();
            std::fs::write(dir.path().join(format!("{file}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.path().join(format!("{file}.key")), key.serialize_pem()).unwrap();
        };
        leaf("server", vec!["localhost".into()], &ca, &ca_key);
        leaf("client", vec!["client.spanguard.test".into()], &ca, &ca_key);
        leaf("rogue-client", vec!["rogue.test".into()], &rogue_ca, &rogue_key);
        Self { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn file(&self, file: &str) -> String {
        self.path(file).display().to_string()
    }
}

fn make_ca(name: &str) -> (rcgen::Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params.self_signed(&key).unwrap(), key)
}

/// A receiver serving mutual TLS on both transports, exporting to `sink_url` in plaintext.
fn mtls_receiver_config(pki: &Pki, sink_url: &str) -> spanguard_config::Config {
    let tls = format!(
        "tls: {{ cert_file: \"{}\", key_file: \"{}\", client_ca_file: \"{}\" }}",
        pki.file("server.pem"),
        pki.file("server.key"),
        pki.file("ca.pem")
    );
    let text = common::config_text(sink_url)
        .replace(
            "grpc: { endpoint: \"127.0.0.1:0\" }",
            &format!("grpc: {{ endpoint: \"127.0.0.1:0\", {tls} }}"),
        )
        .replace(
            "http: { endpoint: \"127.0.0.1:0\" }",
            &format!("http: {{ endpoint: \"127.0.0.1:0\", {tls} }}"),
        );
    common::parse(&text)
}

/// A sink behind a spanguard whose receivers require mutual TLS.
async fn mtls_downstream(pki: &Pki) -> (Sink, spanguard_pipeline::Running) {
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let running = spanguard_pipeline::start(
        &mtls_receiver_config(pki, &sink.url()),
        Vec::new(),
        spanguard_telemetry::Registry::new(),
    )
    .await
    .unwrap();
    (sink, running)
}

fn python(args: &[&str]) -> (String, String) {
    let out = Command::new(common::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/tls_client.py"))
        .args(args)
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "tls_client.py {args:?} failed: {stderr}");
    (stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_receiver_admits_only_clients_of_the_trusted_ca() {
    let pki = Pki::new();
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let config = mtls_receiver_config(&pki, &sink.url());
    let running = spanguard_pipeline::start(&config, Vec::new(), spanguard_telemetry::Registry::new())
        .await
        .unwrap();
    let grpc = format!("https://localhost:{}", running.grpc_addrs[0].port());
    let http = format!("https://127.0.0.1:{}/v1/traces", running.http_addrs[0].port());
    let (ca, cert, key) = (pki.file("ca.pem"), pki.file("client.pem"), pki.file("client.key"));
    let (rogue_cert, rogue_key) = (pki.file("rogue-client.pem"), pki.file("rogue-client.key"));

    let sent = tokio::task::spawn_blocking(move || {
        // Trusted client certificate: gRPC through the OpenTelemetry Python SDK, then OTLP/JSON over HTTPS.
        let (spans, _) = python(&["grpc", &grpc, &ca, &cert, &key]);
        let (status, _) = python(&["http", &http, &ca, &cert, &key]);
        // No client certificate, then one from another CA: refused at the handshake.
        let (anonymous, _) = python(&["http", &http, &ca]);
        let (rogue, _) = python(&["http", &http, &ca, &rogue_cert, &rogue_key]);
        (spans, status, anonymous, rogue)
    })
    .await
    .unwrap();
    assert_eq!(sent.0, "10", "the SDK ended 10 spans");
    assert_eq!(sent.1, "200", "the trusted HTTPS client is admitted");
    assert_eq!(sent.2, "handshake-refused", "no client certificate");
    assert_eq!(sent.3, "handshake-refused", "a client certificate from an untrusted CA");

    // A plaintext gRPC client on the TLS port gets nowhere.
    let plain = tokio::time::timeout(
        Duration::from_secs(10),
        common::grpc_raw(running.grpc_addrs[0], Vec::new()),
    )
    .await
    .expect("the plaintext attempt ends");
    assert!(plain.is_err(), "plaintext must not be served on a TLS port");

    assert_eq!(sink.wait_for(11, Duration::from_secs(15)).await, 11);
    let refused = |protocol: &str| {
        let metrics = running.registry.render();
        let prefix = format!(
            "{}{{protocol=\"{protocol}\",reason=\"tls_handshake\"}} ",
            names::RECEIVER_REFUSED_CONNECTIONS.name
        );
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    assert!(
        common::eventually(Duration::from_secs(5), || refused("http") >= 2 && refused("grpc") >= 1).await,
        "refused handshakes counted: http {} grpc {}",
        refused("http"),
        refused("grpc")
    );
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert!(report.clean);
    let services: std::collections::BTreeSet<String> =
        common::spans(&sink.requests()).into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        services,
        ["python-https", "python-tls"].map(String::from).into(),
        "only the trusted clients' spans arrive"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporters_speak_tls_and_present_their_client_certificate() {
    let pki = Pki::new();
    let (sink, downstream) = mtls_downstream(&pki).await;

    // Upstream spanguard: plaintext in, both exporters out over mutual TLS to the downstream one. The gRPC
    // exporter dials by IP and verifies the name `localhost` (server_name_override); OTLP/HTTP verifies the IP.
    let tls = |name_override: &str| {
        format!(
            "tls: {{ ca_file: \"{}\", cert_file: \"{}\", key_file: \"{}\"{name_override} }}",
            pki.file("ca.pem"),
            pki.file("client.pem"),
            pki.file("client.key")
        )
    };
    let text = format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{ endpoint: "127.0.0.1:0" }}
processors:
  anomaly:
    trace_wait: 200ms
    window: {{ traces: 5, timeout: 1s }}
exporters:
  otlp:
    endpoint: "https://127.0.0.1:{grpc}"
    {grpc_tls}
    batch: {{ send_batch_size: 64, timeout: 50ms }}
  otlphttp:
    endpoint: "https://127.0.0.1:{http}"
    compression: gzip
    {http_tls}
    batch: {{ send_batch_size: 64, timeout: 50ms }}
service:
  pipelines:
    traces: {{ receivers: [otlp], processors: [anomaly], exporters: [otlp, otlphttp] }}
  telemetry:
    metrics: {{ address: "127.0.0.1:0" }}
"#,
        grpc = downstream.grpc_addrs[0].port(),
        http = downstream.http_addrs[0].port(),
        grpc_tls = tls(", server_name_override: \"localhost\""),
        http_tls = tls(""),
    );
    let upstream = spanguard_pipeline::start(&common::parse(&text), Vec::new(), spanguard_telemetry::Registry::new())
        .await
        .unwrap();
    let mut client = common::grpc_client(upstream.grpc_addrs[0]).await;
    client.export(common::request(1, 6, 3, "shop")).await.unwrap();

    // 18 spans, once through each exporter.
    assert_eq!(sink.wait_for(36, Duration::from_secs(20)).await, 36);
    assert!(upstream.shutdown(Duration::from_secs(5)).await.clean);
    assert!(downstream.shutdown(Duration::from_secs(5)).await.clean);
    assert_eq!(sink.span_count(), 36);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exporter_refuses_a_peer_it_cannot_verify() {
    let pki = Pki::new();
    let (sink, downstream) = mtls_downstream(&pki).await;
    // Trusts only the rogue client's certificate as a CA: the downstream's server certificate does not verify.
    let text = common::config_text(&format!("https://127.0.0.1:{}", downstream.grpc_addrs[0].port())).replace(
        "    batch: { send_batch_size: 64, timeout: 50ms }\n",
        &format!(
            "    batch: {{ send_batch_size: 64, timeout: 50ms }}\n    tls: {{ ca_file: \"{}\" }}\n",
            pki.file("rogue-client.pem")
        ),
    );
    let upstream = spanguard_pipeline::start(&common::parse(&text), Vec::new(), spanguard_telemetry::Registry::new())
        .await
        .unwrap();
    let mut client = common::grpc_client(upstream.grpc_addrs[0]).await;
    client.export(common::request(1, 5, 2, "shop")).await.unwrap();
    let failing = common::eventually(Duration::from_secs(10), || {
        upstream.registry.counter_total(&names::EXPORTER_RETRIES) > 0
    })
    .await;
    assert!(failing, "the exporter's attempts fail verification (and are counted)");
    assert_eq!(sink.span_count(), 0, "nothing reaches a peer that was not verified");
    let _ = upstream.shutdown(Duration::from_millis(300)).await;
    let _ = downstream.shutdown(Duration::from_secs(1)).await;
}

#[test]
fn tls_config_errors_name_the_key() {
    let pki = Pki::new();
    let missing = common::config_text("http://127.0.0.1:1").replace(
        "grpc: { endpoint: \"127.0.0.1:0\" }",
        "grpc: { endpoint: \"127.0.0.1:0\", tls: { cert_file: \"/nonexistent.pem\", key_file: \"/nonexistent.key\" } }",
    );
    let err = spanguard_config::Config::from_yaml(&missing, |_| None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("receivers.otlp.protocols.grpc.tls.cert_file"), "{err}");

    let swapped = common::config_text("http://127.0.0.1:1").replace(
        "http: { endpoint: \"127.0.0.1:0\" }",
        &format!(
            "http: {{ endpoint: \"127.0.0.1:0\", tls: {{ cert_file: \"{}\", key_file: \"{}\" }} }}",
            pki.file("server.pem"),
            pki.file("client.key")
        ),
    );
    let err = spanguard_config::Config::from_yaml(&swapped, |_| None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("receivers.otlp.protocols.http.tls.key_file: does not go with cert_file"),
        "{err}"
    );

    let plaintext_with_tls = common::config_text("http://127.0.0.1:1").replace(
        "    batch: { send_batch_size: 64, timeout: 50ms }\n",
        &format!(
            "    batch: {{ send_batch_size: 64, timeout: 50ms }}\n    tls: {{ ca_file: \"{}\" }}\n",
            pki.file("ca.pem")
        ),
    );
    let err = spanguard_config::Config::from_yaml(&plaintext_with_tls, |_| None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("exporters.otlp.endpoint"), "{err}");
    assert!(err.contains("https://"), "{err}");
    assert!(Path::new(&pki.file("ca.pem")).exists());
}
