//! Two spanguard hops in a chain (a sidecar forwarding to a collector-side spanguard, as both shipped examples
//! can be deployed): hop A runs the frequency detector, hop B none. Every span must reach the sink with hop A's
//! verdict intact — `anomaly.detected` and `anomaly.detectors` never contradicting each other, and the window
//! id of the window that judged it — not hop B's "nothing detected".

mod common;

use std::collections::HashSet;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use spanguard_processor::frequency::{train, TrainOptions};
use spanguard_processor::offline::assemble;
use spanguard_testkit::sink::Sink;
use spanguard_testkit::workload::rng::Rng;
use spanguard_testkit::workload::socialnet::{Kind, SocialNetwork};

fn string_attr(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> Option<String> {
    match common::attr(span, key) {
        Some(Value::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_hop_keeps_the_first_hops_verdict() {
    // The paper's Table 1 mix; then ten normal windows and a password-guessing window (13 failed logins added
    // to 37 traces of normal traffic).
    let g = SocialNetwork::default();
    let mut rng = Rng::new(3);
    let t0 = 1_700_000_000_000_000_000;
    let mix = |c, ok, bad| {
        [
            (Kind::ComposePost, c),
            (Kind::CorrectLogin, ok),
            (Kind::IncorrectLogin, bad),
        ]
    };
    let (normal, _) = assemble(g.dataset(&mix(1526, 420, 54), &mut rng, t0));
    let (validation, _) = assemble(g.dataset(&mix(381, 105, 14), &mut rng, t0 + 1_000_000_000_000));
    let mut stream = g.dataset(&mix(381, 105, 14), &mut rng, t0 + 2_000_000_000_000);
    stream.extend(g.dataset(&mix(28, 8, 14), &mut rng, t0 + 3_000_000_000_000));
    let model = train(&normal, &validation, &TrainOptions::evidence()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frequency.json");
    model.save(&path).unwrap();

    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    // Hop B: no detector, forwarding to the sink.
    let b_config = common::parse(&common::config_text(&sink.url()));
    let registry = spanguard_telemetry::Registry::new();
    let b = spanguard_pipeline::start(&b_config, Vec::new(), registry)
        .await
        .unwrap();
    // Hop A: the frequency detector, forwarding to hop B.
    let a_config = common::parse(&common::frequency_config_text(
        &format!("http://{}", b.grpc_addrs[0]),
        &path,
    ));
    let a = common::start_with_detectors(&a_config).await;

    let (traces, _) = assemble(stream.clone());
    let attack: HashSet<Vec<u8>> = traces[500..].iter().map(|t| t.id.to_vec()).collect();
    let mut offline = spanguard_processor::frequency::FrequencyDetector::new(&model);
    let verdicts: Vec<bool> = traces.chunks(50).map(|w| offline.evaluate(w).anomalous).collect();
    assert_eq!(verdicts.iter().filter(|v| **v).count(), 1, "{verdicts:?}");
    assert!(
        verdicts[10],
        "offline, the attack window is the flagged one: {verdicts:?}"
    );
    let total_spans: usize = traces.iter().map(|t| t.spans.len()).sum();
    let mut client = common::grpc_client(a.grpc_addrs[0]).await;
    for req in stream {
        client.export(req).await.unwrap();
    }
    // Every span and hop A's incident for the attack window.
    let total = (total_spans + 1) as u64;
    assert_eq!(sink.wait_for(total, Duration::from_secs(30)).await, total);
    a.shutdown(Duration::from_secs(5)).await;
    b.shutdown(Duration::from_secs(5)).await;

    let (incidents, spans): (Vec<_>, Vec<_>) = common::spans(&sink.requests())
        .into_iter()
        .partition(|(service, s)| service == "spanguard" && s.name == "anomaly.window");
    assert_eq!(
        incidents.len(),
        1,
        "hop A's incident reaches the sink, and hop B made none"
    );
    let incident_window = string_attr(&incidents[0].1, "anomaly.window.id").unwrap();
    let run_of = |id: &str| id.rsplit_once('-').map(|(run, _)| run.to_owned()).unwrap();
    let mut runs = HashSet::new();
    let mut flagged = 0;
    for (_, span) in &spans {
        let window = string_attr(span, "anomaly.window.id").expect("every span has a window id");
        runs.insert(run_of(&window));
        let detected = common::attr(span, "anomaly.detected") == Some(&Value::BoolValue(true));
        let detectors = match common::attr(span, "anomaly.detectors") {
            Some(Value::ArrayValue(a)) => a.values.iter().filter_map(|v| v.value.clone()).collect(),
            _ => Vec::new(),
        };
        assert_eq!(
            detected,
            !detectors.is_empty(),
            "detected and detectors agree: {span:?}"
        );
        let in_attack = attack.contains(&span.trace_id);
        assert_eq!(detected, in_attack, "hop A's verdict survives hop B: {span:?}");
        if in_attack {
            flagged += 1;
            assert_eq!(detectors, vec![Value::StringValue("frequency".into())]);
            assert_eq!(window, incident_window, "the window that judged it");
        }
        assert!(
            common::attr(span, "anomaly.frequency.evidence").is_some(),
            "hop A's detector attributes stay"
        );
    }
    assert_eq!(
        runs,
        HashSet::from([run_of(&incident_window)]),
        "every window id is hop A's"
    );
    assert!(flagged > 0);
}
