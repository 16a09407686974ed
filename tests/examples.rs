//! The deployment examples under `examples/` are contracts too: each is parsed here and checked for what would
//! break it in a real deployment (a spanguard config that does not validate, a collector pipeline naming a
//! component it does not define, a compose service depending on one that does not exist, a dashboard querying a
//! metric spanguard does not export). What can run here runs for real: the compose file's model-training command,
//! and the probe DaemonSet's capability set (root only; `SPANGUARD_REQUIRE_EBPF=1` makes a skip a failure).
//! No Docker engine, Kubernetes API, Grafana or Collector binary exists on these machines, so the files
//! themselves cannot be deployed in a test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_yaml::Value;
use spanguard_config::{Config, EventSource};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// All documents of a multi-document YAML file (Kubernetes manifests).
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Real models for the examples' model paths to point at (config validation checks they exist): a frequency
/// model trained by the compose file's own trainer command, and a small graph model. Trained once per run.
fn models() -> &'static Path {
    static MODELS: OnceLock<tempfile::TempDir> = OnceLock::new();
    MODELS
        .get_or_init(|| {
            let tmp = tempfile::tempdir().unwrap();
            let c = yaml(&examples().join("docker-compose.yaml"));
            let script = strings(&c["services"]["models"]["command"]).join(" ");
            let script = script.replace("/models", tmp.path().to_str().unwrap());
            let commands: Vec<Vec<String>> = script
                .split("spanguard ")
                .skip(1)
                .map(|part| {
                    part.split_whitespace()
                        .take_while(|w| !w.starts_with("&&") && !w.starts_with(')'))
                        .map(|w| w.trim_end_matches(')').to_owned())
                        .collect()
                })
                .collect();
            assert_eq!(commands.len(), 2, "generate, then train: {script}");
            let events = tmp.path().join("lte.jsonl");
            let graph = tmp.path().join("graph");
            let graph_commands = [
                vec![
                    "generate",
                    "lte",
                    "--intervals",
                    "12",
                    "--interval",
                    "1s",
                    "--out",
                    events.to_str().unwrap(),
                ],
                vec![
                    "train",
                    "graph",
                    "--events",
                    events.to_str().unwrap(),
                    "--interval",
                    "1s",
                    "--epochs",
                    "50",
                    "--out",
                    graph.to_str().unwrap(),
                ],
            ];
            let graph_commands = graph_commands.iter().map(|c| c.iter().map(|w| w.to_string()).collect());
            for args in commands.into_iter().chain(graph_commands) {
                let out = Command::new(env!("CARGO_BIN_EXE_spanguard"))
                    .args(&args)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "spanguard {args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            tmp
        })
        .path()
}

/// Validates spanguard config text as `spanguard run` would, with no environment set (defaults apply) and the
/// examples' model paths pointing at real models.
fn spanguard_config(text: &str, what: &str) -> Config {
    let m = models();
    let text = text
        .replace("/var/lib/spanguard/models/graph", m.join("graph").to_str().unwrap())
        .replace("/models/frequency.json", m.join("frequency.json").to_str().unwrap())
        .replace("model/frequency.json", m.join("frequency.json").to_str().unwrap());
    Config::from_yaml(&text, |_| None).unwrap_or_else(|e| panic!("{what}: {e}"))
}

#[test]
fn every_spanguard_config_in_examples_validates() {
    let mut checked = 0;
    for entry in std::fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") && yaml(&path)["processors"].get("anomaly").is_some() {
            spanguard_config(&std::fs::read_to_string(&path).unwrap(), &path.display().to_string());
            checked += 1;
        }
    }
    assert!(
        checked >= 3,
        "passthrough.yaml, frequency.yaml and spanguard.yaml at least; found {checked}"
    );
}

#[test]
fn the_deployment_config_defaults_to_a_mounted_model_and_the_next_hop_from_the_environment() {
    let text = std::fs::read_to_string(examples().join("spanguard.yaml")).unwrap();
    let defaults = spanguard_config(&text, "spanguard.yaml");
    assert_eq!(
        defaults.processor.config.frequency.as_ref().unwrap().model,
        models().join("frequency.json")
    );
    let hop = "http://collector:14317";
    let model = models().join("frequency.json");
    let c = Config::from_yaml(&text, |name| match name {
        "SPANGUARD_NEXT_HOP" => Some(hop.to_owned()),
        "SPANGUARD_FREQUENCY_MODEL" => Some(model.display().to_string()),
        _ => None,
    })
    .unwrap();
    assert_eq!(c.processor.config.frequency.as_ref().unwrap().model, model);
    let debug = format!("{:?}", c.exporters[0].config);
    assert!(debug.contains(hop), "SPANGUARD_NEXT_HOP sets the next hop: {debug}");
}

#[test]
fn the_collector_routes_by_trace_id_and_every_pipeline_component_is_defined() {
    let c = yaml(&examples().join("collector-pipeline.yaml"));
    let lb = &c["exporters"]["loadbalancing"];
    assert_eq!(
        lb["routing_key"].as_str(),
        Some("traceID"),
        "trace assembly needs all spans of a trace on one spanguard"
    );
    assert!(lb["resolver"].as_mapping().is_some_and(|m| !m.is_empty()));
    let pipelines = c["service"]["pipelines"].as_mapping().expect("service.pipelines");
    let mut receivers_used = BTreeSet::new();
    for (name, p) in pipelines {
        for kind in ["receivers", "processors", "exporters"] {
            for component in strings(&p[kind]) {
                assert!(
                    c[kind].get(component.as_str()).is_some(),
                    "pipeline {name:?} uses {kind}.{component}, which is not defined"
                );
                if kind == "receivers" {
                    receivers_used.insert(component);
                }
            }
        }
    }
    // The scored spans come back on a second receiver whose pipeline does not loop them back to spanguard.
    let scored = pipelines
        .iter()
        .find(|(_, p)| strings(&p["receivers"]).iter().any(|r| r != "otlp"))
        .map(|(_, p)| p)
        .expect("a pipeline for the spans spanguard sends back");
    assert!(!strings(&scored["exporters"]).contains(&"loadbalancing".to_owned()));
    assert!(receivers_used.contains("otlp"));
}

#[test]
fn the_compose_file_is_consistent_and_its_model_training_command_works() {
    let dir = examples();
    let c = yaml(&dir.join("docker-compose.yaml"));
    let services = c["services"].as_mapping().expect("services");
    for name in ["jaeger", "spanguard", "loadgen", "models"] {
        assert!(services.get(name).is_some(), "service {name}");
    }
    let volumes = c["volumes"].as_mapping().cloned().unwrap_or_default();
    for (name, s) in services {
        if let Some(deps) = s["depends_on"].as_mapping() {
            for (dep, _) in deps {
                assert!(
                    services.get(dep).is_some(),
                    "{name:?} depends on unknown service {dep:?}"
                );
            }
        }
        for mount in strings(&s["volumes"]) {
            let source = mount.split(':').next().unwrap();
            if source.starts_with("./") {
                assert!(dir.join(source).exists(), "{name:?} mounts missing file {source}");
            } else {
                assert!(
                    volumes.get(source).is_some(),
                    "{name:?} mounts undeclared volume {source}"
                );
            }
        }
    }
    assert_eq!(
        c["services"]["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"].as_str(),
        Some("true")
    );
    let env = &c["services"]["spanguard"]["environment"];
    assert_eq!(env["SPANGUARD_NEXT_HOP"].as_str(), Some("http://jaeger:4317"));

    // The one-shot trainer's spanguard commands really run (with /models in a temporary directory).
    let model: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models().join("frequency.json")).unwrap()).unwrap();
    let threshold = model["validation"]["threshold"].as_f64().expect("validation.threshold");
    assert!(threshold > 0.0 && threshold.is_finite());
    assert_eq!(
        model["method"], "evidence",
        "the trainer uses spanguard's default method"
    );
}

/// The spanguard config embedded in a Kubernetes ConfigMap, and the container that mounts it.
struct Manifest {
    config: Config,
    pod: Value,
    container: Value,
}

fn manifest(file: &str) -> Manifest {
    let docs = documents(&examples().join("k8s").join(file));
    let map = docs
        .iter()
        .find(|d| d["kind"].as_str() == Some("ConfigMap"))
        .expect("a ConfigMap");
    let text = map["data"]["spanguard.yaml"].as_str().expect("data.spanguard.yaml");
    let config = spanguard_config(text, file);
    let workload = docs
        .iter()
        .find(|d| matches!(d["kind"].as_str(), Some("Deployment" | "DaemonSet")))
        .expect("a workload");
    let pod = workload["spec"]["template"]["spec"].clone();
    let container = pod["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str().is_some_and(|n| n.starts_with("spanguard")))
        .expect("a spanguard container")
        .clone();
    // The container runs the mounted config, from the ConfigMap above.
    let args = strings(&container["args"]);
    let config_path = args.iter().skip_while(|a| *a != "--config").nth(1).expect("--config");
    let mount = container["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| config_path.starts_with(m["mountPath"].as_str().unwrap()))
        .expect("the config file is mounted");
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume is declared");
    assert_eq!(volume["configMap"]["name"], map["metadata"]["name"]);
    // Health probes hit the port /healthz really listens on.
    let metrics_port: u64 = config
        .service
        .telemetry
        .metrics
        .address
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let ports = container["ports"].as_sequence().unwrap();
    let named = ports
        .iter()
        .find(|p| p["name"].as_str() == Some("metrics"))
        .expect("a metrics port");
    assert_eq!(named["containerPort"].as_u64(), Some(metrics_port));
    for probe in ["readinessProbe", "livenessProbe"] {
        assert_eq!(
            container[probe]["httpGet"]["path"].as_str(),
            Some("/healthz"),
            "{probe}"
        );
    }
    Manifest { config, pod, container }
}

#[test]
fn the_sidecar_runs_unprivileged_next_to_the_app() {
    let m = manifest("sidecar.yaml");
    assert!(m.config.processor.config.frequency.is_some());
    let sc = &m.container["securityContext"];
    assert_eq!(sc["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    assert!(sc["capabilities"]["add"].is_null(), "the pipeline needs no capability");
    // The app reaches it on localhost, where it listens.
    let grpc = m.config.receivers[0]
        .config
        .protocols
        .grpc
        .as_ref()
        .expect("gRPC receiver");
    assert!(grpc.endpoint.starts_with("127.0.0.1:") || grpc.endpoint.starts_with("localhost:"));
    assert!(
        m.pod["containers"].as_sequence().unwrap().len() >= 2,
        "an app container beside it"
    );
}

/// The capabilities the DaemonSet grants the probe.
fn daemonset_caps() -> (Manifest, Vec<String>) {
    let m = manifest("probe-daemonset.yaml");
    let caps = strings(&m.container["securityContext"]["capabilities"]["add"]);
    (m, caps)
}

#[test]
fn the_probe_daemonset_grants_exactly_four_capabilities_and_runs_the_ebpf_source() {
    let (m, caps) = daemonset_caps();
    let graph = m.config.processor.config.graph.as_ref().expect("the graph detector");
    assert_eq!(graph.events.source, EventSource::Ebpf);
    assert_eq!(
        m.pod["hostPID"].as_bool(),
        Some(true),
        "the probe must see the node's processes"
    );
    let sc = &m.container["securityContext"];
    assert_eq!(strings(&sc["capabilities"]["drop"]), ["ALL"]);
    assert_eq!(caps, ["BPF", "PERFMON", "SYS_PTRACE", "DAC_READ_SEARCH"]);
    assert_eq!(sc["privileged"].as_bool(), Some(false));
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    // The cgroup scope lives under the host's cgroup mount.
    for cg in &graph.events.cgroups {
        let mounted = m.container["volumeMounts"]
            .as_sequence()
            .unwrap()
            .iter()
            .any(|v| cg.starts_with(v["mountPath"].as_str().unwrap()));
        assert!(mounted, "{} is not under a mounted volume", cg.display());
    }
}

/// Runs `spanguard probe` as uid 0 holding only `caps` against a process of `nobody` that keeps writing to one
/// file; returns whether that file showed up resolved in the events, and the probe's stderr.
fn probe_with_caps(caps: &[String]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let file = dir.path().join("written-by-nobody");
    // `exec >file` keeps one fd (a `>&3` redirection per write would dup2 a fresh, short-lived fd each time).
    let mut writer = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c"])
        .arg(format!(
            "exec >{}; while :; do echo hello; sleep 0.05; done",
            file.display()
        ))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let set = caps
        .iter()
        .map(|c| format!("+{}", c.to_lowercase()))
        .collect::<Vec<_>>()
        .join(",");
    let set = if set.is_empty() {
        "-all".to_owned()
    } else {
        format!("-all,{set}")
    };
    let out = Command::new("setpriv")
        .arg(format!("--inh-caps={set}"))
        .arg(format!("--ambient-caps={set}"))
        .arg(format!("--bounding-set={set}"))
        .arg(env!("CARGO_BIN_EXE_spanguard"))
        .args([
            "probe",
            "--out",
            "-",
            "--duration",
            "2s",
            "--pid",
            &writer.id().to_string(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = writer.kill();
    let _ = writer.wait();
    let events = String::from_utf8_lossy(&out.stdout);
    let resolved = events.lines().any(|l| l.contains(file.to_str().unwrap()));
    (resolved, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_daemonset_capabilities_are_enough_and_each_one_is_needed() {
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    let available = is_root && spanguard_ebpf_probe::preflight().is_ok() && which("setpriv");
    if !available {
        assert!(
            std::env::var("SPANGUARD_REQUIRE_EBPF").as_deref() != Ok("1"),
            "SPANGUARD_REQUIRE_EBPF=1 but this needs root, the eBPF probe and setpriv"
        );
        eprintln!("SKIPPED: needs root (to drop to exactly the DaemonSet's capabilities), eBPF and setpriv");
        return;
    }
    let (_, caps) = daemonset_caps();
    let (resolved, stderr) = probe_with_caps(&caps);
    assert!(
        resolved,
        "with {caps:?} the probe resolves another user's file: {stderr}"
    );
    for missing in &caps {
        let fewer: Vec<String> = caps.iter().filter(|c| *c != missing).cloned().collect();
        let (resolved, stderr) = probe_with_caps(&fewer);
        assert!(
            !resolved,
            "without {missing} the probe should not see the file — then it is not needed"
        );
        assert!(
            stderr.contains(&format!("CAP_{missing}")),
            "without {missing} the probe says so: {stderr}"
        );
    }
}

fn which(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn the_dashboard_queries_only_metrics_spanguard_exports() {
    let names: BTreeSet<&str> = include_str!("../telemetry/src/names.rs")
        .split('"')
        .filter(|s| s.starts_with("spanguard_"))
        .collect();
    let d: serde_json::Value =
        serde_json::from_slice(&std::fs::read(examples().join("grafana-dashboard.json")).unwrap()).unwrap();
    let mut used = BTreeSet::new();
    for panel in d["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().expect("targets") {
            let expr = target["expr"].as_str().expect("expr");
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("spanguard_") {
                    assert!(
                        names.contains(word),
                        "panel {:?} queries unknown metric {word}",
                        panel["title"]
                    );
                    used.insert(word.to_owned());
                }
            }
        }
    }
    for key in [
        "spanguard_processor_anomalies_total",
        "spanguard_exporter_dropped_spans_total",
    ] {
        assert!(used.contains(key), "the dashboard shows {key}");
    }
}
