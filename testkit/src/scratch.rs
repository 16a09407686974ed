//! What the demo and the bench leave on disk while they run: a private scratch directory, removed when they
//! end, and the events file the graph detector follows, appended step by step.

use std::io::Write;
use std::path::{Path, PathBuf};

use spanguard_exchange::ExchangeEvent;

use crate::TestkitError;

/// A private scratch directory, removed when dropped.
pub struct Scratch {
    /// The directory.
    pub path: PathBuf,
}

impl Scratch {
    /// `$TMPDIR/spanguard-<what>-<pid>`, created.
    pub fn new(what: &str) -> Result<Self, TestkitError> {
        let path = std::env::temp_dir().join(format!("spanguard-{what}-{}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| TestkitError::io(format!("cannot create {}", path.display()), e))?;
        Ok(Self { path })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Appends exchange events to the file the graph detector follows, one flush per batch (a step of the demo, a
/// second of the bench), so that the follower sees whole lines.
pub struct EventWriter {
    out: std::io::BufWriter<std::fs::File>,
    path: PathBuf,
}

impl EventWriter {
    /// Opens an existing file for appending.
    pub fn open(path: &Path) -> Result<Self, TestkitError> {
        let f = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| TestkitError::io(format!("cannot open {}", path.display()), e))?;
        Ok(Self {
            out: std::io::BufWriter::new(f),
            path: path.to_owned(),
        })
    }

    /// Appends `events`, one JSON line each, and flushes.
    pub fn append(&mut self, events: &[ExchangeEvent]) -> Result<(), TestkitError> {
        let failed = |e| TestkitError::io(format!("cannot write to {}", self.path.display()), e);
        for e in events {
            serde_json::to_writer(&mut self.out, e).map_err(|e| failed(std::io::Error::other(e)))?;
            self.out.write_all(b"\n").map_err(failed)?;
        }
        self.out.flush().map_err(failed)
    }
}
