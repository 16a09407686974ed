//! Labelled periods read from a file: the datasets' fault labels, or any JSON array of
//! `{timestamp | start, end?, fault | kind}` (unix seconds). Their windows are kept apart in an evaluation
//! ([`super::eval`]): neither normal nor bursts.

use std::path::Path;
use std::time::Duration;

use super::eval::Label;

/// Why a labels file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LabelsError {
    /// The file cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a JSON array.
    #[error("{path}: not a JSON array of labels")]
    Json {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A label without a start.
    #[error("{path}: label {index} has no timestamp or start (unix seconds)")]
    NoStart {
        /// The file.
        path: String,
        /// The label's position, from 0.
        index: usize,
    },
}

/// Reads the labels in `path`; a label without `end` lasts `duration`, one without `fault` or `kind` is
/// `labelled`.
pub fn read_labels(path: &Path, duration: Duration) -> Result<Vec<Label>, LabelsError> {
    let shown = || path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LabelsError::Io { path: shown(), source })?;
    let items: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|source| LabelsError::Json { path: shown(), source })?;
    let secs = |v: &serde_json::Value| v.as_f64().map(|s| (s * 1e9) as u64);
    let lasts = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let start_ns = item
                .get("start")
                .or_else(|| item.get("timestamp"))
                .and_then(secs)
                .ok_or_else(|| LabelsError::NoStart { path: shown(), index })?;
            let end_ns = item.get("end").and_then(secs).unwrap_or(start_ns.saturating_add(lasts));
            let kind = item
                .get("fault")
                .or_else(|| item.get("kind"))
                .and_then(|v| v.as_str())
                .unwrap_or("labelled")
                .to_owned();
            Ok(Label { start_ns, end_ns, kind })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_take_either_form_and_a_default_length() {
        let dir = std::env::temp_dir().join(format!("spanguard-labels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("labels.json");
        std::fs::write(
            &p,
            r#"[{"timestamp": 10, "fault": "cpu"}, {"start": 20, "end": 25, "kind": "attack"}, {"start": 30}]"#,
        )
        .unwrap();
        let l = read_labels(&p, Duration::from_secs(60)).unwrap();
        assert_eq!(
            l[0],
            Label {
                start_ns: 10_000_000_000,
                end_ns: 70_000_000_000,
                kind: "cpu".into()
            }
        );
        assert_eq!(
            l[1],
            Label {
                start_ns: 20_000_000_000,
                end_ns: 25_000_000_000,
                kind: "attack".into()
            }
        );
        assert_eq!(l[2].kind, "labelled");
        std::fs::write(&p, r#"[{"end": 5}]"#).unwrap();
        let e = read_labels(&p, Duration::from_secs(60)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: label 0 has no timestamp or start (unix seconds)", p.display())
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
