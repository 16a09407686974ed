//! Malformed, oversize and mistyped requests get the status the OTLP specification prescribes, are counted,
//! and leave spanguard serving.

mod common;

use std::io::Write;
use std::time::Duration;

use prost::Message;
use spanguard_telemetry::names;
use spanguard_testkit::sink::Sink;

async fn start(extra_receiver: &str) -> (Sink, spanguard_pipeline::Running) {
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let text = common::config_text(&sink.url()).replace(
        "      http: { endpoint: \"127.0.0.1:0\" }\n",
        &format!("      http: {{ endpoint: \"127.0.0.1:0\" }}\n{extra_receiver}"),
    );
    let running = spanguard_pipeline::start(&common::parse(&text), Vec::new(), spanguard_telemetry::Registry::new())
        .await
        .unwrap();
    (sink, running)
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(raw).unwrap();
    enc.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_statuses() {
    let (sink, running) = start("    max_request_bytes: 4KiB\n").await;
    let addr = running.grpc_addrs[0];

    let err = common::grpc_raw(addr, b"\x0a\xff\xff\xff\xff\x0f garbage".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("not a valid protobuf"), "{}", err.message());

    let big = common::request(1, 20, 5, "svc").encode_to_vec();
    assert!(big.len() > 4096);
    let err = common::grpc_raw(addr, big).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");

    // One span with a zero trace id among valid ones: partial success, the rest forwarded.
    let mut req = common::request(1, 1, 3, "svc");
    req.resource_spans[0].scope_spans[0].spans[1].trace_id = vec![0; 16];
    let resp = common::grpc_client(addr).await.export(req).await.unwrap().into_inner();
    let partial = resp.partial_success.expect("partial success reported");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("trace_id"));

    // Still serving.
    common::grpc_client(addr)
        .await
        .export(common::request(2, 1, 2, "svc"))
        .await
        .unwrap();
    assert_eq!(sink.wait_for(4, Duration::from_secs(10)).await, 4);

    let r = &running.registry;
    assert_eq!(
        r.counter_value(
            &names::RECEIVER_REFUSED_REQUESTS,
            &[("protocol", "grpc"), ("reason", "malformed")]
        ),
        1
    );
    assert_eq!(
        r.counter_value(
            &names::RECEIVER_REFUSED_REQUESTS,
            &[("protocol", "grpc"), ("reason", "too_large")]
        ),
        1
    );
    assert_eq!(
        r.counter_value(
            &names::RECEIVER_REFUSED_SPANS,
            &[("protocol", "grpc"), ("reason", "invalid_trace_id")]
        ),
        1
    );
    assert_eq!(
        r.counter_value(&names::RECEIVER_ACCEPTED_SPANS, &[("protocol", "grpc")]),
        4
    );
    running.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_statuses() {
    let (sink, running) = start("    max_request_bytes: 4KiB\n").await;
    let url = format!("http://{}/v1/traces", running.http_addrs[0]);
    let client = reqwest::Client::new();
    let post = |ct: &'static str, body: Vec<u8>, enc: Option<&'static str>| {
        let mut b = client.post(&url).header("content-type", ct).body(body);
        if let Some(e) = enc {
            b = b.header("content-encoding", e);
        }
        b.send()
    };

    let r = post("application/x-protobuf", b"\x0a\xff\xff\xff".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    let status = r.bytes().await.unwrap();
    assert!(!status.is_empty(), "400 carries a google.rpc.Status body");

    let r = post("application/json", b"{\"resourceSpans\": [ {".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], 3, "INVALID_ARGUMENT in the JSON status: {body}");
    assert!(body["message"].as_str().unwrap().contains("OTLP/JSON"));

    let r = post(
        "application/json",
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"not-hex"}]}]}]}"#.to_vec(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400, "bad hex id is malformed JSON OTLP");

    let big = common::request(1, 20, 5, "svc").encode_to_vec();
    let r = post("application/x-protobuf", big, None).await.unwrap();
    assert_eq!(r.status(), 413);

    // 1 MiB of zeros gzips to ~1 KiB: a small bomb must still be refused by its inflated size.
    let bomb = gzip(&vec![0u8; 1 << 20]);
    assert!(bomb.len() < 4096);
    let r = post("application/x-protobuf", bomb, Some("gzip")).await.unwrap();
    assert_eq!(r.status(), 413);

    let r = post("text/plain", b"hello".to_vec(), None).await.unwrap();
    assert_eq!(r.status(), 415);

    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 405);

    // Still serving, gzip and JSON included.
    let json = serde_json::to_vec(&common::request(5, 1, 2, "svc")).unwrap();
    let r = post("application/json", gzip(&json), Some("gzip")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let r = post(
        "application/x-protobuf",
        common::request(6, 1, 3, "svc").encode_to_vec(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(sink.wait_for(5, Duration::from_secs(10)).await, 5);

    let reg = &running.registry;
    let refused = |reason| {
        reg.counter_value(
            &names::RECEIVER_REFUSED_REQUESTS,
            &[("protocol", "http"), ("reason", reason)],
        )
    };
    assert_eq!(refused("malformed"), 3);
    assert_eq!(refused("too_large"), 2);
    assert_eq!(refused("unsupported_media_type"), 1);

    // The metrics endpoint shows the same, and reveals no span content.
    let text = client
        .get(format!("http://{}/metrics", running.metrics_addr.unwrap()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("spanguard_receiver_refused_requests_total{protocol=\"http\",reason=\"too_large\"} 2"),
        "{text}"
    );
    assert!(
        !text.contains("op-0") && !text.contains("svc"),
        "metrics must not reveal span contents"
    );
    running.shutdown(Duration::from_secs(5)).await;
}
