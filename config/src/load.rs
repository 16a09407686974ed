use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::{AnomalyConfig, ConfigError, DebugExporterConfig, ExporterConfig, OtlpReceiverConfig, ServiceConfig};

/// A component as the pipeline names it: `otlp`, `otlp/backup`, …
#[derive(Debug, Clone)]
pub struct Named<T> {
    /// The key under `receivers`/`processors`/`exporters`.
    pub name: String,
    /// Its typed settings.
    pub config: T,
}

/// A validated configuration: only the components the pipeline uses, in pipeline order.
#[derive(Debug, Clone)]
pub struct Config {
    /// The pipeline's receivers.
    pub receivers: Vec<Named<OtlpReceiverConfig>>,
    /// The pipeline's anomaly processor.
    pub processor: Named<AnomalyConfig>,
    /// The pipeline's exporters (fan-out).
    pub exporters: Vec<Named<ExporterConfig>>,
    /// `service` section.
    pub service: ServiceConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    receivers: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    processors: BTreeMap<String, serde_yaml::Value>,
    #[serde(default)]
    exporters: BTreeMap<String, serde_yaml::Value>,
    service: serde_yaml::Value,
}

impl Config {
    /// Reads, expands `${env:…}`, parses and validates a config file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml(&text, |name| std::env::var(name).ok())
    }

    /// Parses and validates config text; `env` resolves `${env:NAME}`.
    pub fn from_yaml(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let expanded = crate::env::expand(text, env)?;
        let value: serde_yaml::Value = serde_yaml::from_str(&expanded).map_err(|e| ConfigError::Yaml(e.to_string()))?;
        let raw: RawConfig = typed(value, "")?;
        let service: ServiceConfig = typed(raw.service, "service")?;
        let pipe = &service.pipelines.traces;
        let pipe_path = "service.pipelines.traces";

        if pipe.receivers.is_empty() {
            return Err(ConfigError::key(
                format!("{pipe_path}.receivers"),
                "list at least one receiver, e.g. [otlp]",
            ));
        }
        if pipe.exporters.is_empty() {
            return Err(ConfigError::key(
                format!("{pipe_path}.exporters"),
                "list at least one exporter, e.g. [otlp]",
            ));
        }

        let mut receivers = Vec::new();
        for name in &pipe.receivers {
            let value = lookup(&raw.receivers, "receivers", name, &format!("{pipe_path}.receivers"))?;
            let path = format!("receivers.{name}");
            let config: OtlpReceiverConfig = match component_type(name) {
                "otlp" => typed(value, &path)?,
                other => {
                    return Err(ConfigError::key(
                        path,
                        format!("unknown receiver type {other:?}; spanguard has otlp"),
                    ))
                }
            };
            config.validate(&path)?;
            receivers.push(Named {
                name: name.clone(),
                config,
            });
        }

        let processor = match pipe.processors.as_slice() {
            [name] if component_type(name) == "anomaly" => {
                let value = lookup(&raw.processors, "processors", name, &format!("{pipe_path}.processors"))?;
                let path = format!("processors.{name}");
                let config: AnomalyConfig = typed(value, &path)?;
                config.validate(&path)?;
                Named {
                    name: name.clone(),
                    config,
                }
            }
            _ => {
                return Err(ConfigError::key(
                    format!("{pipe_path}.processors"),
                    "spanguard's pipeline has exactly one processor, its anomaly processor: write [anomaly]",
                ))
            }
        };

        let mut exporters = Vec::new();
        for name in &pipe.exporters {
            let value = lookup(&raw.exporters, "exporters", name, &format!("{pipe_path}.exporters"))?;
            let path = format!("exporters.{name}");
            let config = match component_type(name) {
                "otlp" => ExporterConfig::Otlp(typed(value, &path)?),
                "otlphttp" => ExporterConfig::OtlpHttp(typed(value, &path)?),
                "file" => ExporterConfig::File(typed(value, &path)?),
                "debug" => ExporterConfig::Debug(typed::<DebugExporterConfig>(value, &path)?),
                other => {
                    return Err(ConfigError::key(
                        path,
                        format!("unknown exporter type {other:?}; spanguard has otlp, otlphttp, file, debug"),
                    ))
                }
            };
            config.validate(&path)?;
            exporters.push(Named {
                name: name.clone(),
                config,
            });
        }

        if !service.telemetry.metrics.address.is_empty() {
            check_listen_endpoint("service.telemetry.metrics.address", &service.telemetry.metrics.address)?;
        }
        let mut listeners: Vec<(String, &str)> = Vec::new();
        for r in &receivers {
            let p = &r.config.protocols;
            let base = format!("receivers.{}.protocols", r.name);
            listeners.extend(
                p.grpc
                    .as_ref()
                    .map(|g| (format!("{base}.grpc.endpoint"), g.endpoint.as_str())),
            );
            listeners.extend(
                p.http
                    .as_ref()
                    .map(|h| (format!("{base}.http.endpoint"), h.endpoint.as_str())),
            );
        }
        if !service.telemetry.metrics.address.is_empty() {
            listeners.push((
                "service.telemetry.metrics.address".to_owned(),
                service.telemetry.metrics.address.as_str(),
            ));
        }
        check_distinct_listeners(&listeners)?;
        let limit = processor.config.memory_limit.0;
        if let Some(r) = receivers.iter().find(|r| r.config.max_request_bytes.0 >= limit) {
            return Err(ConfigError::key(
                format!("receivers.{}.max_request_bytes", r.name),
                format!(
                    "is {} bytes, not below processors.{}.memory_limit ({limit} bytes): one request could fill it; lower it or raise the limit",
                    r.config.max_request_bytes.0, processor.name
                ),
            ));
        }

        Ok(Config {
            receivers,
            processor,
            exporters,
            service,
        })
    }
}

/// `otlp/backup` → `otlp`.
fn component_type(name: &str) -> &str {
    name.split('/').next().unwrap_or(name)
}

fn lookup(
    map: &BTreeMap<String, serde_yaml::Value>,
    section: &str,
    name: &str,
    used_at: &str,
) -> Result<serde_yaml::Value, ConfigError> {
    map.get(name).cloned().ok_or_else(|| {
        let known: Vec<&str> = map.keys().map(String::as_str).collect();
        ConfigError::key(
            used_at,
            format!("names {name:?}, which is not defined under `{section}` (defined: {known:?})"),
        )
    })
}

/// Deserializes `value` as `T`, reporting the full key path of the first error.
fn typed<T: DeserializeOwned>(value: serde_yaml::Value, base: &str) -> Result<T, ConfigError> {
    // `otlp:` with nothing under it means "all defaults".
    let value = match value {
        serde_yaml::Value::Null => serde_yaml::Value::Mapping(Default::default()),
        v => v,
    };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = match (base.is_empty(), inner == ".") {
            (true, _) => inner,
            (false, true) => base.to_owned(),
            (false, false) => format!("{base}.{inner}"),
        };
        let mut message = for_people(&e.into_inner().to_string());
        if path.ends_with(".tls.insecure") {
            // The collector's spelling: spanguard says plaintext or TLS with the endpoint's scheme.
            message.push_str(
                "; spanguard has no `insecure`: an http:// endpoint is plaintext, an https:// one is TLS (drop the tls block for plaintext)",
            );
        }
        ConfigError::key(path, message)
    })
}

/// Serde's type names in an error message, in the words of the YAML a person writes, with an example.
fn for_people(message: &str) -> String {
    const TYPES: [(&str, &str); 9] = [
        ("expected usize", "expected a whole number, e.g. 100000"),
        ("expected u64", "expected a whole number, e.g. 100000"),
        ("expected u32", "expected a whole number, e.g. 256"),
        ("expected u16", "expected a whole number from 0 to 65535, e.g. 4317"),
        ("expected f64", "expected a number, e.g. 0.5"),
        ("expected a boolean", "expected true or false"),
        ("expected a duration", "expected a duration, e.g. 2s or 500ms"),
        ("expected a sequence", "expected a list, e.g. [otlp]"),
        ("expected a string", "expected text, e.g. \"0.0.0.0:4317\""),
    ];
    TYPES
        .iter()
        .find(|(from, _)| message.contains(from))
        .map_or_else(|| message.to_owned(), |(from, to)| message.replace(from, to))
}

/// Two listeners on one port (the same host, or a wildcard host) cannot both bind: `run` would fail on the second
/// one, so the config is refused with both keys named. Port 0 (any free port) never conflicts.
fn check_distinct_listeners(listeners: &[(String, &str)]) -> Result<(), ConfigError> {
    let split = |e: &str| {
        e.rsplit_once(':').map(|(h, p)| {
            (
                h.trim_start_matches('[').trim_end_matches(']').to_owned(),
                p.parse::<u16>().ok(),
            )
        })
    };
    let wildcard = |h: &str| h == "0.0.0.0" || h == "::" || h.is_empty();
    for (i, (key_a, a)) in listeners.iter().enumerate() {
        for (key_b, b) in &listeners[i + 1..] {
            let (Some((ha, Some(pa))), Some((hb, Some(pb)))) = (split(a), split(b)) else {
                continue;
            };
            if pa != 0 && pa == pb && (ha == hb || wildcard(&ha) || wildcard(&hb)) {
                return Err(ConfigError::key(
                    key_b.clone(),
                    format!("{b:?} is also where {key_a} listens ({a:?}): give each its own port"),
                ));
            }
        }
    }
    Ok(())
}

/// Checks a listen address has the `host:port` shape with a numeric port.
pub(crate) fn check_listen_endpoint(path: &str, endpoint: &str) -> Result<(), ConfigError> {
    let ok = endpoint
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
    if ok {
        Ok(())
    } else {
        Err(ConfigError::key(
            path,
            format!("{endpoint:?} is not host:port, e.g. \"0.0.0.0:4317\" or \"127.0.0.1:8888\""),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
receivers:
  otlp:
    protocols:
      grpc: { endpoint: "0.0.0.0:4317" }
      http: { endpoint: "0.0.0.0:4318" }
processors:
  anomaly:
    trace_wait: 2s
    max_traces: 100000
    window: { traces: 50, timeout: 10s }
exporters:
  otlp: { endpoint: "http://127.0.0.1:14317" }
service:
  pipelines:
    traces: { receivers: [otlp], processors: [anomaly], exporters: [otlp] }
  telemetry:
    metrics: { address: "127.0.0.1:8888" }
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_yaml(text, |n| (n == "SINK").then(|| "http://10.0.0.9:4317".to_owned()))
    }

    #[test]
    fn issue_example_parses_with_its_values() {
        let c = parse(BASE).unwrap();
        assert_eq!(
            c.receivers[0].config.protocols.grpc.as_ref().unwrap().endpoint,
            "0.0.0.0:4317"
        );
        assert_eq!(c.processor.config.window.traces, 50);
        assert_eq!(c.processor.config.trace_wait.as_secs(), 2);
        assert_eq!(c.receivers[0].config.max_request_bytes.0, 16 << 20);
        match &c.exporters[0].config {
            ExporterConfig::Otlp(o) => assert_eq!(o.endpoint, "http://127.0.0.1:14317"),
            other => panic!("wrong exporter {other:?}"),
        }
    }

    #[test]
    fn unknown_key_names_its_path() {
        let text = BASE.replace("window: { traces: 50", "window: { trace: 50");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("config key processors.anomaly.window.trace: unknown field `trace`, expected `traces`"),
            "{err}"
        );
    }

    #[test]
    fn bad_duration_names_its_path() {
        let err = parse(&BASE.replace("trace_wait: 2s", "trace_wait: soon"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("config key processors.anomaly.trace_wait:"), "{err}");
        assert!(err.contains("e.g. 2s or 500ms"), "{err}");
    }

    #[test]
    fn a_number_where_text_was_given_says_which_number() {
        let err = parse(&BASE.replace("max_traces: 100000", "max_traces: lots"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("config key processors.anomaly.max_traces:"), "{err}");
        assert!(err.contains("expected a whole number, e.g. 100000"), "{err}");
        assert!(!err.contains("usize"), "{err}");
    }

    #[test]
    fn two_listeners_on_one_port_are_refused_with_both_keys() {
        let text = BASE.replace(
            "http: { endpoint: \"0.0.0.0:4318\" }",
            "http: { endpoint: \"127.0.0.1:4317\" }",
        );
        assert_ne!(text, BASE);
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("config key receivers.otlp.protocols.http.endpoint: \"127.0.0.1:4317\" is also where receivers.otlp.protocols.grpc.endpoint listens"),
            "{err}"
        );
        let text = BASE.replace("127.0.0.1:8888", "127.0.0.1:4318");
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("service.telemetry.metrics.address"), "{err}");
    }

    #[test]
    fn bad_endpoint_and_zero_window() {
        let err = parse(&BASE.replace("\"0.0.0.0:4317\"", "\"nowhere\""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("receivers.otlp.protocols.grpc.endpoint"), "{err}");
        let err = parse(&BASE.replace("traces: 50", "traces: 0")).unwrap_err().to_string();
        assert!(
            err.contains("processors.anomaly.window.traces: must be at least 1"),
            "{err}"
        );
        let err = parse(&BASE.replace("http://127.0.0.1:14317", "127.0.0.1:14317"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("exporters.otlp.endpoint"), "{err}");
    }

    #[test]
    fn undefined_component_in_pipeline() {
        let err = parse(&BASE.replace("exporters: [otlp]", "exporters: [otlp/2]"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("service.pipelines.traces.exporters: names \"otlp/2\""),
            "{err}"
        );
    }

    #[test]
    fn env_expansion_and_named_exporters() {
        let text = BASE
            .replace(
                "otlp: { endpoint: \"http://127.0.0.1:14317\" }",
                "otlp/jaeger: { endpoint: \"${env:SINK}\" }\n  debug:",
            )
            .replace("exporters: [otlp]", "exporters: [otlp/jaeger, debug]");
        let c = parse(&text).unwrap();
        assert_eq!(c.exporters.len(), 2);
        match &c.exporters[0].config {
            ExporterConfig::Otlp(o) => assert_eq!(o.endpoint, "http://10.0.0.9:4317"),
            other => panic!("wrong exporter {other:?}"),
        }
        assert!(matches!(c.exporters[1].config, ExporterConfig::Debug(_)));
    }

    #[test]
    fn unknown_exporter_type() {
        let text = BASE
            .replace("otlp: { endpoint: \"http://127.0.0.1:14317\" }", "kafka: {}")
            .replace("exporters: [otlp]", "exporters: [kafka]");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("exporters.kafka: unknown exporter type \"kafka\""),
            "{err}"
        );
    }
}
