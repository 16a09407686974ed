//! A progress bar on stderr for long commands, drawn only when stderr is a terminal (logs and CI stay clean).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};

/// A progress bar.
pub struct Bar {
    total: u64,
    label: &'static str,
    tty: bool,
    last: AtomicU64,
}

impl Bar {
    /// A bar for `total` steps.
    pub fn new(total: u64, label: &'static str) -> Self {
        Self {
            total: total.max(1),
            label,
            tty: std::io::stderr().is_terminal(),
            last: AtomicU64::new(u64::MAX),
        }
    }

    /// Moves to step `done`, with a note.
    pub fn set(&self, done: u64, note: &str) {
        if !self.tty {
            return;
        }
        let pct = done * 100 / self.total;
        if self.last.swap(pct, Ordering::Relaxed) == pct && done != self.total {
            return;
        }
        let width = 30;
        let filled = (done * width / self.total) as usize;
        let bar: String = "█".repeat(filled) + &"░".repeat(width as usize - filled);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{} {bar} {pct:>3}% {note}   ", self.label);
        let _ = err.flush();
    }

    /// Ends the bar's line.
    pub fn finish(&self) {
        if self.tty {
            eprintln!();
        }
    }
}
