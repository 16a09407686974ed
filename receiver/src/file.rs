//! Trace files, for the offline commands (`train`, `score`, `eval`): OTLP/JSON lines as the collector's file
//! exporter writes them (one `ExportTraceServiceRequest`/`TracesData` object per line, optionally `.gz`), and
//! Jaeger JSON as the Jaeger UI downloads it (`{"data":[{"traceID","spans","processes"}]}`). The format is
//! detected from the content, not the file name.

use std::io::Read;
use std::path::Path;

use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use serde::Deserialize;

use crate::Request;

/// Why a trace file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceFileError {
    /// The file could not be opened or decompressed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A line is not an OTLP/JSON request.
    #[error(
        "{path}:{line}: not an OTLP/JSON ExportTraceServiceRequest: {message} (use --skip-bad to skip such lines)"
    )]
    BadLine { path: String, line: usize, message: String },
    /// The file is neither format.
    #[error("{path}: neither OTLP/JSON lines (objects with \"resourceSpans\") nor Jaeger JSON (an object with \"data\"): {message}")]
    Unknown { path: String, message: String },
}

/// The format a file was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFileFormat {
    /// OTLP/JSON, one request per line.
    OtlpJsonLines,
    /// Jaeger JSON.
    Jaeger,
}

impl TraceFileFormat {
    /// Its name for people.
    pub fn name(self) -> &'static str {
        match self {
            Self::OtlpJsonLines => "OTLP/JSON lines",
            Self::Jaeger => "Jaeger JSON",
        }
    }
}

/// A trace file's content.
#[derive(Debug)]
pub struct TraceFile {
    /// The requests in file order (for Jaeger, one per trace).
    pub requests: Vec<Request>,
    /// Detected format.
    pub format: TraceFileFormat,
    /// Lines skipped as malformed (only with `skip_bad`).
    pub skipped_lines: usize,
}

/// Reads `path` (gzip detected by its magic bytes). With `skip_bad`, malformed OTLP lines are skipped and
/// counted instead of failing.
pub fn read_trace_file(path: &Path, skip_bad: bool) -> Result<TraceFile, TraceFileError> {
    let shown = path.display().to_string();
    let raw = std::fs::read(path).map_err(|source| TraceFileError::Io {
        path: shown.clone(),
        source,
    })?;
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len() * 8);
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|source| TraceFileError::Io {
                path: shown.clone(),
                source,
            })?;
        out
    } else {
        raw
    };
    parse_trace_text(&text, &shown, skip_bad)
}

/// Parses trace-file content already in memory.
pub fn parse_trace_text(text: &[u8], shown: &str, skip_bad: bool) -> Result<TraceFile, TraceFileError> {
    let first_line = text
        .split(|b| *b == b'\n')
        .find(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .unwrap_or(&[]);
    let looks_otlp = serde_json::from_slice::<serde_json::Value>(first_line)
        .ok()
        .is_some_and(|v| v.get("resourceSpans").is_some() || v.get("resource_spans").is_some());
    if looks_otlp {
        return parse_otlp_lines(text, shown, skip_bad);
    }
    match serde_json::from_slice::<JaegerDocument>(text) {
        Ok(doc) => Ok(TraceFile {
            requests: doc.data.into_iter().map(jaeger_to_otlp).collect(),
            format: TraceFileFormat::Jaeger,
            skipped_lines: 0,
        }),
        Err(e) if first_line.first() == Some(&b'{') && !text.windows(6).any(|w| w == b"\"data\"") => {
            // Probably OTLP lines whose first line is broken: report it as such, with its line number.
            parse_otlp_lines(text, shown, skip_bad).map_err(|err| match err {
                TraceFileError::BadLine { .. } => err,
                _ => TraceFileError::Unknown {
                    path: shown.to_owned(),
                    message: e.to_string(),
                },
            })
        }
        Err(e) => Err(TraceFileError::Unknown {
            path: shown.to_owned(),
            message: e.to_string(),
        }),
    }
}

fn parse_otlp_lines(text: &[u8], shown: &str, skip_bad: bool) -> Result<TraceFile, TraceFileError> {
    let mut requests = Vec::new();
    let mut skipped = 0;
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        match serde_json::from_slice::<Request>(line) {
            Ok(r) => requests.push(r),
            Err(e) if skip_bad => {
                tracing::warn!(file = shown, line = i + 1, error = %e, "skipping malformed line");
                skipped += 1;
            }
            Err(e) => {
                return Err(TraceFileError::BadLine {
                    path: shown.to_owned(),
                    line: i + 1,
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(TraceFile {
        requests,
        format: TraceFileFormat::OtlpJsonLines,
        skipped_lines: skipped,
    })
}

#[derive(Deserialize)]
struct JaegerDocument {
    data: Vec<JaegerTrace>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JaegerTrace {
    #[serde(rename = "traceID")]
    _trace_id: Option<String>,
    spans: Vec<JaegerSpan>,
    #[serde(default)]
    processes: std::collections::HashMap<String, JaegerProcess>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JaegerSpan {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    operation_name: String,
    #[serde(default)]
    references: Vec<JaegerReference>,
    #[serde(default)]
    start_time: u64,
    #[serde(default)]
    duration: u64,
    #[serde(default)]
    tags: Vec<JaegerTag>,
    #[serde(rename = "processID", default)]
    process_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JaegerReference {
    ref_type: String,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JaegerProcess {
    service_name: String,
    #[serde(default)]
    tags: Vec<JaegerTag>,
}

#[derive(Deserialize)]
struct JaegerTag {
    key: String,
    #[serde(default)]
    value: serde_json::Value,
}

/// Jaeger ids are hex without fixed width (64-bit trace ids are common): left-pad to the OTLP width.
fn hex_id(text: &str, bytes: usize) -> Vec<u8> {
    let t = text.trim();
    let padded = format!("{t:0>width$}", width = bytes * 2);
    let tail = &padded[padded.len().saturating_sub(bytes * 2)..];
    (0..bytes)
        .map(|i| u8::from_str_radix(tail.get(2 * i..2 * i + 2).unwrap_or("00"), 16).unwrap_or(0))
        .collect()
}

fn tag_to_kv(tag: &JaegerTag) -> KeyValue {
    let value = match &tag.value {
        serde_json::Value::Bool(b) => Value::BoolValue(*b),
        serde_json::Value::Number(n) if n.is_i64() => Value::IntValue(n.as_i64().unwrap_or(0)),
        serde_json::Value::Number(n) => Value::DoubleValue(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::StringValue(s.clone()),
        other => Value::StringValue(other.to_string()),
    };
    KeyValue {
        key: tag.key.clone(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

fn jaeger_to_otlp(trace: JaegerTrace) -> Request {
    let mut by_process: Vec<(String, Vec<Span>)> = Vec::new();
    for s in trace.spans {
        let parent = s
            .references
            .iter()
            .find(|r| r.ref_type == "CHILD_OF")
            .or_else(|| s.references.first())
            .map(|r| hex_id(&r.span_id, 8))
            .unwrap_or_default();
        let span = Span {
            trace_id: hex_id(&s.trace_id, 16),
            span_id: hex_id(&s.span_id, 8),
            parent_span_id: parent,
            name: s.operation_name,
            start_time_unix_nano: s.start_time.saturating_mul(1000),
            end_time_unix_nano: s.start_time.saturating_add(s.duration).saturating_mul(1000),
            attributes: s.tags.iter().map(tag_to_kv).collect(),
            ..Default::default()
        };
        match by_process.iter_mut().find(|(p, _)| *p == s.process_id) {
            Some((_, spans)) => spans.push(span),
            None => by_process.push((s.process_id, vec![span])),
        }
    }
    let resource_spans = by_process
        .into_iter()
        .map(|(pid, spans)| {
            let (service, tags) = trace
                .processes
                .get(&pid)
                .map(|p| (p.service_name.clone(), p.tags.iter().map(tag_to_kv).collect::<Vec<_>>()))
                .unwrap_or_else(|| ("unknown_service".to_owned(), Vec::new()));
            let mut attributes = vec![KeyValue {
                key: "service.name".to_owned(),
                value: Some(AnyValue {
                    value: Some(Value::StringValue(service)),
                }),
                key_strindex: 0,
            }];
            attributes.extend(tags);
            ResourceSpans {
                resource: Some(Resource {
                    attributes,
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..Default::default()
                }],
                schema_url: String::new(),
            }
        })
        .collect();
    Request { resource_spans }
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAEGER: &str = r#"{"data":[{"traceID":"abc123","spans":[
      {"traceID":"abc123","spanID":"01","operationName":"/login","references":[],"startTime":1000,"duration":50,
       "tags":[{"key":"http.status_code","type":"int64","value":401}],"processID":"p1"},
      {"traceID":"abc123","spanID":"02","operationName":"MmcGetLogin","references":[{"refType":"CHILD_OF","traceID":"abc123","spanID":"01"}],
       "startTime":1010,"duration":5,"tags":[],"processID":"p2"}],
      "processes":{"p1":{"serviceName":"user-service","tags":[]},"p2":{"serviceName":"memcached","tags":[]}}}],
      "total":0,"limit":0,"offset":0,"errors":null}"#;

    #[test]
    fn jaeger_json_becomes_otlp() {
        let f = parse_trace_text(JAEGER.as_bytes(), "t.json", false).unwrap();
        assert_eq!(f.format, TraceFileFormat::Jaeger);
        let r = &f.requests[0];
        assert_eq!(r.resource_spans.len(), 2);
        let login = &r.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(login.trace_id.len(), 16);
        assert_eq!(login.trace_id[15], 0x23);
        assert_eq!(login.start_time_unix_nano, 1_000_000);
        assert_eq!(login.end_time_unix_nano, 1_050_000);
        let child = &r.resource_spans[1].scope_spans[0].spans[0];
        assert_eq!(child.parent_span_id, login.span_id);
    }

    #[test]
    fn bad_otlp_line_is_named_or_skipped() {
        let text = b"{\"resourceSpans\":[]}\n\n{\"resourceSpans\": [ oops\n{\"resourceSpans\":[]}\n";
        let err = parse_trace_text(text, "x.jsonl", false).unwrap_err().to_string();
        assert!(err.starts_with("x.jsonl:3: not an OTLP/JSON"), "{err}");
        let f = parse_trace_text(text, "x.jsonl", true).unwrap();
        assert_eq!((f.requests.len(), f.skipped_lines), (2, 1));
        let err = parse_trace_text(b"hello\n", "y", false).unwrap_err().to_string();
        assert!(err.contains("neither OTLP/JSON lines"), "{err}");
    }
}
