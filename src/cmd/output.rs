//! How the offline commands print: one JSON object per line for programs, aligned columns for people.

use std::io::IsTerminal;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// Aligned columns.
    Table,
}

impl Format {
    /// The format asked for, or by default the one for whoever reads standard output: a table for a person at a
    /// terminal, JSON lines for a pipe or a file (so `score`, `eval` and `score graph` all agree).
    pub fn or_default(asked: Option<Format>) -> Format {
        asked.unwrap_or_else(|| {
            if std::io::stdout().is_terminal() {
                Format::Table
            } else {
                Format::Json
            }
        })
    }
}

/// Whether `path` means standard output (`-`, as for any Unix tool).
pub fn is_stdout(path: &std::path::Path) -> bool {
    path.as_os_str() == "-"
}

/// A writer for `path`: standard output for `-`, else the file (its directory created), gzip-compressed when the
/// name ends in `.gz`.
pub fn create(path: &std::path::Path) -> anyhow::Result<Box<dyn std::io::Write>> {
    use anyhow::Context;
    if is_stdout(path) {
        return Ok(Box::new(std::io::BufWriter::new(std::io::stdout().lock())));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::write::GzEncoder::new(
            std::io::BufWriter::new(file),
            flate2::Compression::default(),
        ))
    } else {
        Box::new(std::io::BufWriter::new(file))
    })
}

/// Says what was written where: on standard error when the data itself went to standard output.
pub fn report(out: &std::path::Path, what: std::fmt::Arguments<'_>) {
    if is_stdout(out) {
        eprintln!("{what}");
    } else {
        println!("{what} → {}", out.display());
    }
}
