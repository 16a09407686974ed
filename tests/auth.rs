//! `receivers.otlp.auth.bearer_token`: over real sockets, the right token gets in on both transports (the gRPC
//! metadata and the HTTP header that OTel SDKs and collector exporters send), a missing or wrong one is refused
//! with UNAUTHENTICATED / 401 before its body is read, and every refusal is counted.

mod common;

use std::time::Duration;

use prost::Message;
use spanguard_telemetry::names;
use spanguard_testkit::sink::Sink;

const TOKEN: &str = "t0k3n-for-tests";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_senders_with_the_bearer_token_get_in() {
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let text = common::config_text(&sink.url()).replace(
        "      http: { endpoint: \"127.0.0.1:0\" }\n",
        "      http: { endpoint: \"127.0.0.1:0\" }\n    auth: { bearer_token: \"${env:TEST_TOKEN}\" }\n",
    );
    let config = spanguard_config::Config::from_yaml(&text, |n| (n == "TEST_TOKEN").then(|| TOKEN.to_owned())).unwrap();
    assert!(
        !format!("{config:?}").contains(TOKEN),
        "the token never appears in a printed config"
    );
    let running = spanguard_pipeline::start(&config, Vec::new(), spanguard_telemetry::Registry::new())
        .await
        .unwrap();

    // gRPC: no token, wrong token, right token.
    let mut client = common::grpc_client(running.grpc_addrs[0]).await;
    let status = client.export(common::request(1, 1, 2, "svc")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated, "{status:?}");
    let mut wrong = tonic::Request::new(common::request(2, 1, 2, "svc"));
    wrong
        .metadata_mut()
        .insert("authorization", "Bearer guess".parse().unwrap());
    assert_eq!(
        client.export(wrong).await.unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    let mut right = tonic::Request::new(common::request(3, 1, 2, "svc"));
    right
        .metadata_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    client.export(right).await.expect("the right token gets in");

    // HTTP: the same, with the OTLP error body and a WWW-Authenticate challenge.
    let url = format!("http://{}/v1/traces", running.http_addrs[0]);
    let body = common::request(4, 1, 2, "svc").encode_to_vec();
    let http = reqwest::Client::new();
    let refused = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["www-authenticate"], "Bearer");
    let status: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(status["code"], tonic::Code::Unauthenticated as i32, "{status}");
    let ok = http
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    // Only the two authenticated requests' spans went through; three refusals counted, none of their spans.
    assert_eq!(sink.wait_for(4, Duration::from_secs(10)).await, 4);
    let metrics = running.registry.render();
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert!(report.clean);
    assert_eq!(sink.span_count(), 4);
    for (protocol, n) in [("grpc", 2), ("http", 1)] {
        let line = format!(
            "{}{{protocol=\"{protocol}\",reason=\"unauthenticated\"}} {n}",
            names::RECEIVER_REFUSED_REQUESTS.name
        );
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
}

#[test]
fn an_empty_token_is_a_config_error_naming_the_key() {
    let text = common::config_text("http://127.0.0.1:1").replace(
        "      http: { endpoint: \"127.0.0.1:0\" }\n",
        "      http: { endpoint: \"127.0.0.1:0\" }\n    auth: { bearer_token: \"${env:UNSET_TOKEN:-}\" }\n",
    );
    let err = spanguard_config::Config::from_yaml(&text, |_| None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("receivers.otlp.auth.bearer_token"), "{err}");
}
