//! Reading a versioned JSON model file, shared by the frequency and graph models: both start with
//! `"format"` and `"version"`, checked before the rest is interpreted, so that a model from another tool or a
//! future version is refused with a message that says so instead of a confusing field error.

use std::path::Path;

use serde::de::DeserializeOwned;

/// The frequency model's file in a models directory (the layout `inspect`, the demo and the bench read).
pub const FREQUENCY_FILE: &str = "frequency.json";
/// The graph model's directory in a models directory.
pub const GRAPH_DIR: &str = "graph";

/// Why a model file could not be read (each model maps this onto its own error type, with the path).
pub(crate) enum ReadError {
    Io(std::io::Error),
    Parse(String),
    /// Another kind of file: what it is instead, in words.
    Kind(String),
    Version {
        format: String,
        version: u32,
    },
}

/// What is at `path`, in words, when it is not the model asked for: the other model kind, a directory, JSON of
/// another shape.
pub(crate) fn describe(path: &Path) -> String {
    if path.is_dir() {
        return if path.join("graph.json").is_file() {
            "a directory holding a graph model (graph.json)".to_owned()
        } else if path.join(FREQUENCY_FILE).is_file() {
            "a directory holding a frequency model (frequency.json)".to_owned()
        } else {
            "a directory".to_owned()
        };
    }
    let format = std::fs::read(path)
        .ok()
        .and_then(|t| serde_json::from_slice::<serde_json::Value>(&t).ok())
        .map(|v| v.get("format").and_then(|f| f.as_str()).unwrap_or("").to_owned());
    match format.as_deref() {
        Some("spanguard.frequency") => "a frequency model file (spanguard.frequency)".to_owned(),
        Some("spanguard.graph") => "a graph model's graph.json".to_owned(),
        Some("") => "JSON without a \"format\" field, so not a model spanguard wrote".to_owned(),
        Some(other) => format!("JSON of format {other:?}, not a spanguard model"),
        None => "not JSON".to_owned(),
    }
}

/// Reads `path`, checks its `format` and that its `version` is one of `versions`, and deserializes it.
pub(crate) fn read_versioned<T: DeserializeOwned>(path: &Path, format: &str, versions: &[u32]) -> Result<T, ReadError> {
    if path.is_dir() {
        return Err(ReadError::Kind(describe(path)));
    }
    let text = std::fs::read(path).map_err(ReadError::Io)?;
    let head: serde_json::Value = serde_json::from_slice(&text).map_err(|e| ReadError::Parse(e.to_string()))?;
    let found_format = head.get("format").and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let found_version = head.get("version").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
    if found_format != format {
        return Err(ReadError::Kind(describe(path)));
    }
    if !versions.contains(&found_version) {
        return Err(ReadError::Version {
            format: found_format,
            version: found_version,
        });
    }
    serde_json::from_value(head).map_err(|e| ReadError::Parse(e.to_string()))
}
