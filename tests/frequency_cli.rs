//! `spanguard generate | train | score | eval frequency`, through the real binary, on generated, real
//! (OnlineBoutique) and Jaeger-JSON traces.

use std::path::{Path, PathBuf};
use std::process::Command;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::{json, Value};

mod common;
use common::{json_lines, spanguard, ONLINE_BOUTIQUE};

fn spanguard_fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args(args)
        .output()
        .expect("run spanguard");
    assert!(!out.status.success(), "spanguard {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn socialnet_train_then_score_flags_the_attack_window() {
    let dir = tempfile::tempdir().unwrap();
    let f = |n: &str| dir.path().join(n);
    spanguard(&[
        "generate",
        "socialnet",
        "--set",
        "normal",
        "--seed",
        "1",
        "--out",
        p(&f("normal.jsonl")),
    ]);
    spanguard(&[
        "generate",
        "socialnet",
        "--set",
        "validation",
        "--seed",
        "2",
        "--out",
        p(&f("val.jsonl.gz")),
    ]);
    spanguard(&[
        "generate",
        "socialnet",
        "--set",
        "attack",
        "--seed",
        "3",
        "--out",
        p(&f("attack.jsonl")),
    ]);
    let said = spanguard(&[
        "train",
        "frequency",
        "--traces",
        p(&f("normal.jsonl")),
        "--validation",
        p(&f("val.jsonl.gz")),
        "--window",
        "50",
        "--k",
        "2",
        "--out",
        p(&f("model/frequency.json")),
    ]);
    assert!(said.contains("10 validation windows of 50"), "{said}");

    let model: Value = serde_json::from_slice(&std::fs::read(f("model/frequency.json")).unwrap()).unwrap();
    assert_eq!(model["format"], "spanguard.frequency");
    assert_eq!(model["version"], 2);
    assert_eq!(model["method"], "evidence");
    assert_eq!(model["window"], 50);
    assert_eq!(model["training"]["traces"], 2000);
    assert_eq!(model["validation"]["distances"].as_array().unwrap().len(), 10);
    // The evidence method measured the scatter of the normal validation windows around the reference: more than
    // a multinomial's, since the paper's validation mix (60/33/7 %) differs from its training mix (76/21/3 %)
    // and the reference catches up window by window.
    let phi = model["evidence"]["dispersion"]["phi"].as_f64().unwrap();
    assert!((1.0..3.0).contains(&phi), "{phi}");

    let val = json_lines(&spanguard(&[
        "score",
        "frequency",
        "--model",
        p(&f("model/frequency.json")),
        "--traces",
        p(&f("val.jsonl.gz")),
    ]));
    assert_eq!(val.len(), 10);
    assert!(
        val.iter().all(|w| w["anomalous"] == false),
        "normal validation windows are not flagged: {val:?}"
    );
    // The attack lasts two windows (the paper's Table-2 window, twice with another seed).
    spanguard(&[
        "generate",
        "socialnet",
        "--set",
        "attack",
        "--seed",
        "4",
        "--out",
        p(&f("attack2.jsonl")),
    ]);
    let mut both = std::fs::read(f("attack.jsonl")).unwrap();
    both.extend(std::fs::read(f("attack2.jsonl")).unwrap());
    std::fs::write(f("attacks.jsonl"), both).unwrap();
    let attack = json_lines(&spanguard(&[
        "score",
        "frequency",
        "--model",
        p(&f("model/frequency.json")),
        "--traces",
        p(&f("attacks.jsonl")),
    ]));
    assert_eq!(attack.len(), 2);
    // Against a scatter measured on only ten validation windows (φ ≈ 1.8), the first window's 9 failed logins
    // where about one is expected are strong evidence but just short of the 0.005 level (measured: 2.53σ
    // against 2.58σ); the second window of the same excess carries it over.
    let first = &attack[0];
    assert!(first["evidence"].as_f64().unwrap() > 2.0, "{first}");
    let w = &attack[1];
    for key in [
        "window",
        "traces",
        "distance",
        "threshold",
        "anomalous",
        "top",
        "cusum",
        "sustained",
        "rebaselined",
        "evidence",
        "level",
        "novel",
        "shift",
        "start_ns",
        "end_ns",
    ] {
        assert!(w.get(key).is_some(), "score line lacks {key}: {w}");
    }
    assert_eq!(w["traces"], 50);
    assert_eq!(w["anomalous"], true, "{w}");
    assert!(w["evidence"].as_f64().unwrap() > w["level"].as_f64().unwrap(), "{w}");
    // The explanation names the failed-login sequence, over-represented against its baseline.
    let top = &w["top"][0];
    assert_eq!(
        top["sequence"],
        "user-service/Login -> user-service/MmcGetLogin -> user-service/MongoFindUser"
    );
    assert!(
        top["observed"].as_f64().unwrap() > 4.0 * top["baseline"].as_f64().unwrap(),
        "{top}"
    );
    // With its counts: several of the window's 13 failed logins (those that missed the login cache) where the
    // reference expects about one.
    assert!(top["count"].as_u64().unwrap() >= 5, "{top}");
    assert!(top["expected"].as_f64().unwrap() < 2.0, "{top}");

    let table = spanguard(&[
        "score",
        "frequency",
        "--model",
        p(&f("model/frequency.json")),
        "--traces",
        p(&f("attacks.jsonl")),
        "--format",
        "table",
    ]);
    assert!(table.contains("ANOMALY"), "{table}");
}

#[test]
fn online_boutique_train_and_score() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("ob.json");
    spanguard(&[
        "train",
        "frequency",
        "--traces",
        ONLINE_BOUTIQUE,
        "--order",
        "time",
        "--out",
        p(&model),
    ]);
    let lines = json_lines(&spanguard(&[
        "score",
        "frequency",
        "--model",
        p(&model),
        "--traces",
        ONLINE_BOUTIQUE,
        "--order",
        "time",
    ]));
    assert_eq!(
        lines.len(),
        4804usize.div_ceil(50),
        "one line per window, the last one partial"
    );
    let last = lines.last().unwrap();
    assert_eq!(last["traces"], 4804 % 50);
    // Four traces are too few to judge: the line says so, without a verdict.
    assert_eq!(last["partial"], true);
    assert!(last.get("anomalous").is_none(), "{last}");
    let judged = &lines[..lines.len() - 1];
    assert!(judged
        .iter()
        .all(|l| l["distance"].as_f64().unwrap().is_finite() && l["partial"] == false));
    // Trained on its first 80 % in time order and replayed whole, the default detector follows its own traffic.
    // Measured: 5 of 96 windows alarm. Three are windows the paper's threshold flags as well (the change of
    // traffic around minute 7, when the ad service's sequences vanish for two windows); the other two are
    // sustained (CUSUM) alarms on rare currency sequences whose rate rises faster than the reference follows.
    // The README reports these windows; the bound is one in ten.
    let alarms = judged.iter().filter(|l| l["anomalous"] == true).count();
    assert!(
        alarms * 10 < judged.len(),
        "{alarms} of {} windows alarmed",
        judged.len()
    );
}

/// Writes `requests` (one trace each) as the Jaeger UI's JSON download.
fn write_jaeger(path: &PathBuf, requests: &[ExportTraceServiceRequest]) {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let data: Vec<Value> = requests
        .iter()
        .map(|r| {
            let mut spans = Vec::new();
            let mut processes = serde_json::Map::new();
            for (i, rs) in r.resource_spans.iter().enumerate() {
                let service = rs.resource.as_ref().unwrap().attributes[0].value.as_ref().unwrap().value.clone();
                let Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(service)) = service else {
                    panic!("service.name")
                };
                let pid = format!("p{}", i + 1);
                processes.insert(pid.clone(), json!({"serviceName": service, "tags": []}));
                for s in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
                    let refs = if s.parent_span_id.is_empty() {
                        json!([])
                    } else {
                        json!([{"refType": "CHILD_OF", "traceID": hex(&s.trace_id), "spanID": hex(&s.parent_span_id)}])
                    };
                    spans.push(json!({
                        "traceID": hex(&s.trace_id), "spanID": hex(&s.span_id), "operationName": s.name,
                        "references": refs, "startTime": s.start_time_unix_nano / 1000,
                        "duration": (s.end_time_unix_nano - s.start_time_unix_nano) / 1000,
                        "tags": [], "logs": [], "processID": pid, "warnings": null, "flags": 1
                    }));
                }
            }
            json!({"traceID": hex(&r.resource_spans[0].scope_spans[0].spans[0].trace_id), "spans": spans, "processes": processes, "warnings": null})
        })
        .collect();
    let doc = json!({"data": data, "total": 0, "limit": 0, "offset": 0, "errors": null});
    std::fs::write(path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

#[test]
fn jaeger_json_train_and_score() {
    use spanguard_testkit::workload::rng::Rng;
    use spanguard_testkit::workload::socialnet::{Kind, SocialNetwork};
    let dir = tempfile::tempdir().unwrap();
    let g = SocialNetwork::default();
    let mut rng = Rng::new(11);
    let normal = g.dataset(
        &[
            (Kind::ComposePost, 760),
            (Kind::CorrectLogin, 210),
            (Kind::IncorrectLogin, 30),
        ],
        &mut rng,
        0,
    );
    let attack = g.dataset(
        &[
            (Kind::ComposePost, 30),
            (Kind::CorrectLogin, 5),
            (Kind::IncorrectLogin, 15),
        ],
        &mut rng,
        0,
    );
    let (jn, ja) = (dir.path().join("normal.json"), dir.path().join("attack.json"));
    write_jaeger(&jn, &normal);
    write_jaeger(&ja, &attack);
    let model = dir.path().join("m.json");
    let said = spanguard(&[
        "train",
        "frequency",
        "--traces",
        p(&jn),
        "--validation-split",
        "0.5",
        "--out",
        p(&model),
    ]);
    assert!(said.contains("500 training traces"), "{said}");
    let lines = json_lines(&spanguard(&[
        "score",
        "frequency",
        "--model",
        p(&model),
        "--traces",
        p(&ja),
    ]));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["anomalous"], true, "{}", lines[0]);
}

#[test]
fn a_bad_line_is_named_or_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.jsonl");
    spanguard(&[
        "generate",
        "socialnet",
        "--compose",
        "150",
        "--correct-logins",
        "40",
        "--incorrect-logins",
        "10",
        "--out",
        p(&good),
    ]);
    let mut text = std::fs::read_to_string(&good).unwrap();
    let second = text.find('\n').unwrap() + 1;
    text.insert_str(second, "{\"resourceSpans\": [ this is not json\n");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, text).unwrap();
    let model = dir.path().join("m.json");
    let err = spanguard_fails(&[
        "train",
        "frequency",
        "--traces",
        p(&bad),
        "--window",
        "10",
        "--out",
        p(&model),
    ]);
    assert!(err.contains("bad.jsonl:2: not an OTLP/JSON"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args([
            "train",
            "frequency",
            "--traces",
            p(&bad),
            "--window",
            "10",
            "--skip-bad",
            "--out",
            p(&model),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped 1 malformed line"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("160 training traces"));
}

#[test]
fn eval_catches_a_sustained_low_rate_attack_with_cusum() {
    use spanguard_testkit::workload::rng::Rng;
    use spanguard_testkit::workload::socialnet::{Kind, SocialNetwork};
    let dir = tempfile::tempdir().unwrap();
    let g = SocialNetwork::default();
    let mut rng = Rng::new(5);
    // Normal traffic in the paper's Table 1 proportions; then 20 windows where 15 % of traces are failed logins.
    let normal = g.dataset(
        &[
            (Kind::ComposePost, 7630),
            (Kind::CorrectLogin, 2100),
            (Kind::IncorrectLogin, 270),
        ],
        &mut rng,
        0,
    );
    let mut attack = Vec::new();
    for _ in 0..20 {
        attack.extend(g.dataset(
            &[
                (Kind::ComposePost, 32),
                (Kind::CorrectLogin, 10),
                (Kind::IncorrectLogin, 8),
            ],
            &mut rng,
            0,
        ));
    }
    let (n, a) = (dir.path().join("normal.jsonl"), dir.path().join("attack.jsonl"));
    spanguard::cmd::generate::write_jsonl(&n, &normal).unwrap();
    spanguard::cmd::generate::write_jsonl(&a, &attack).unwrap();
    let out = spanguard(&[
        "eval",
        "frequency",
        "--normal",
        p(&n),
        "--attack",
        p(&a),
        "--paper",
        "--train-fraction",
        "0.2",
        "--validation-fraction",
        "0.05",
        "--window",
        "50",
        "--format",
        "json",
    ]);
    let r = &json_lines(&out)[0];
    eprintln!("{r}");
    assert_eq!(r["normal_windows"], 150);
    assert_eq!(r["attack_windows"], 20);
    let cusum_fa = r["cusum_false_alarm_rate"].as_f64().unwrap();
    let single_fa = r["false_alarm_rate"].as_f64().unwrap();
    assert!(
        cusum_fa <= single_fa,
        "CUSUM false alarms {cusum_fa} must not exceed the single-window test's {single_fa}"
    );
    let to_detect = r["cusum_windows_to_detection"]
        .as_u64()
        .expect("the CUSUM detects the sustained attack");
    assert!(to_detect <= 4, "caught within a few windows: {to_detect}");
    assert!(
        r["cusum_detection_rate"].as_f64().unwrap() >= 0.25,
        "and keeps alarming while it lasts: {r}"
    );
}

#[test]
fn drifting_real_traffic_holds_with_regime_changes_and_still_catches_bursts() {
    // OnlineBoutique in time order: the traffic mix changes abruptly after ~10 minutes (README).
    let eval = |method: &[&str]| {
        let mut args = vec![
            "eval",
            "frequency",
            "--normal",
            ONLINE_BOUTIQUE,
            "--order",
            "time",
            "--burst",
            "0.3",
            "--burst-like",
            "PlaceOrder",
            "--format",
            "json",
        ];
        args.extend_from_slice(method);
        json_lines(&spanguard(&args)).remove(0)
    };
    let paper = eval(&["--paper"]);
    let ours = eval(&["--method", "threshold", "--confirm-within", "2"]);
    eprintln!("paper: {paper}\nours: {ours}");
    assert_eq!(paper["normal_windows"], 48);
    assert!(
        paper["false_alarm_rate"].as_f64().unwrap() > 0.5,
        "the paper's fixed baseline goes stale"
    );
    assert!(
        ours["false_alarm_rate"].as_f64().unwrap() <= 0.1,
        "re-baselining holds on the drift: {ours}"
    );
    assert!(ours["rebaselined"].as_u64().unwrap() >= 1);
    assert_eq!(
        ours["burst_detection_rate"].as_f64().unwrap(),
        1.0,
        "and a 30 % burst of checkouts is still caught anywhere"
    );
}
