//! Reading a versioned JSON model file, shared by the frequency and graph models: both start with
//! `"format"` and `"version"`, checked before the rest is interpreted, so that a model from another tool or a
//! future version is refused with a message that says so instead of a confusing field error.

use std::path::Path;

use serde::de::DeserializeOwned;

/// Why a model file could not be read (each model maps this onto its own error type, with the path).
pub(crate) enum ReadError {
    Io(std::io::Error),
    Parse(String),
    Version { format: String, version: u32 },
}

/// Reads `path`, checks its `format` and that its `version` is one of `versions`, and deserializes it.
pub(crate) fn read_versioned<T: DeserializeOwned>(path: &Path, format: &str, versions: &[u32]) -> Result<T, ReadError> {
    let text = std::fs::read(path).map_err(ReadError::Io)?;
    let head: serde_json::Value = serde_json::from_slice(&text).map_err(|e| ReadError::Parse(e.to_string()))?;
    let found_format = head.get("format").and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let found_version = head.get("version").and_then(|v| v.as_u64()).unwrap_or(0) as u32;
    if found_format != format || !versions.contains(&found_version) {
        return Err(ReadError::Version {
            format: found_format,
            version: found_version,
        });
    }
    serde_json::from_value(head).map_err(|e| ReadError::Parse(e.to_string()))
}
