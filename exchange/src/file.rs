//! Exchange events as JSON lines (optionally gzip): what `spanguard probe --out` records and what `train graph`,
//! `score graph` and the `file` event source read.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use crate::ExchangeEvent;

/// Why an events file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventFileError {
    /// Opening or reading.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A malformed line.
    #[error("{path}:{line}: not an exchange event: {message}")]
    BadLine { path: String, line: usize, message: String },
}

/// Parses one line; `Ok(None)` for a blank line.
pub fn parse_line(line: &str) -> Result<Option<ExchangeEvent>, serde_json::Error> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(line).map(Some)
}

/// Reads every event of `path` (gzip detected by its magic bytes), in file order.
pub fn read_events(path: &Path) -> Result<Vec<ExchangeEvent>, EventFileError> {
    let shown = path.display().to_string();
    let io = |source| EventFileError::Io {
        path: shown.clone(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(io)?;
    let file = std::fs::File::open(path).map_err(io)?;
    let reader: Box<dyn BufRead> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(io)?;
        match parse_line(&line) {
            Ok(Some(e)) => out.push(e),
            Ok(None) => {}
            Err(e) => {
                return Err(EventFileError::BadLine {
                    path: shown,
                    line: i + 1,
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(out)
}

/// Writes events as JSON lines (`.gz` compresses).
pub fn write_events(path: &Path, events: &[ExchangeEvent]) -> Result<(), EventFileError> {
    let shown = path.display().to_string();
    let io = |source| EventFileError::Io {
        path: shown.clone(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = std::fs::File::create(path).map_err(io)?;
    let mut w: Box<dyn Write> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::write::GzEncoder::new(
            std::io::BufWriter::new(file),
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(std::io::BufWriter::new(file))
    };
    for e in events {
        serde_json::to_writer(&mut w, e).map_err(|e| io(std::io::Error::other(e)))?;
        w.write_all(b"\n").map_err(io)?;
    }
    w.flush().map_err(io)
}

/// Follows `path` like `tail -f`: sends every event already in it, then each appended line, until `stop` is
/// set. Runs on its own thread; a full `tx` makes it wait (the file is the buffer). Malformed lines are counted
/// in `bad_lines` and skipped (a live file must not stop the pipeline).
pub fn follow(
    path: std::path::PathBuf,
    tx: std::sync::mpsc::SyncSender<ExchangeEvent>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    bad_lines: spanguard_telemetry::Counter,
) -> std::thread::JoinHandle<()> {
    use std::sync::atomic::Ordering;
    std::thread::Builder::new()
        .name("events-file".into())
        .spawn(move || {
            let mut reader: Option<BufReader<std::fs::File>> = None;
            let mut partial = String::new();
            while !stop.load(Ordering::Relaxed) {
                if reader.is_none() {
                    match std::fs::File::open(&path) {
                        Ok(f) => reader = Some(BufReader::new(f)),
                        Err(_) => {
                            std::thread::sleep(std::time::Duration::from_millis(200));
                            continue;
                        }
                    }
                }
                let Some(r) = reader.as_mut() else { continue };
                let mut line = String::new();
                match r.read_line(&mut line) {
                    Ok(0) => std::thread::sleep(std::time::Duration::from_millis(100)),
                    Ok(_) if !line.ends_with('\n') => partial.push_str(&line),
                    Ok(_) => {
                        partial.push_str(&line);
                        match parse_line(&partial) {
                            Ok(Some(e)) => {
                                if tx.send(e).is_err() {
                                    return;
                                }
                            }
                            Ok(None) => {}
                            Err(_) => bad_lines.inc(),
                        }
                        partial.clear();
                    }
                    Err(_) => {
                        reader = None;
                        std::thread::sleep(std::time::Duration::from_millis(200));
                    }
                }
            }
        })
        .expect("spawning a thread only fails when the process is out of resources")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_line_is_named() {
        let dir = std::env::temp_dir().join(format!("sg-ev-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("e.jsonl");
        std::fs::write(
            &p,
            "{\"ts\":1,\"pid\":1,\"tid\":1,\"op\":\"read\",\"bytes\":1,\"target\":{\"kind\":\"memory\"}}\n\n{\"ts\":2,\"op\":\"fly\"}\n",
        )
        .unwrap();
        let err = read_events(&p).unwrap_err().to_string();
        assert!(err.contains("e.jsonl:3: not an exchange event"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
