//! Loading trace files for the offline commands.

use std::path::Path;

use spanguard_processor::offline::assemble;
use spanguard_processor::Trace;
use spanguard_receiver::file::read_trace_file;

/// In which order traces are windowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Order {
    /// The order of each trace's first span in the file (what a collector's file exporter wrote).
    File,
    /// By trace start time (for files not written in time order).
    Time,
}

/// Reads `path` (OTLP/JSON lines, `.gz`, or Jaeger JSON) and assembles its traces.
pub fn load(path: &Path, skip_bad: bool, order: Order) -> anyhow::Result<Vec<Trace>> {
    let file = read_trace_file(path, skip_bad)?;
    let (mut traces, invalid) = assemble(file.requests);
    if order == Order::Time {
        traces.sort_by_key(|t| t.start_ns());
    }
    tracing::info!(
        file = %path.display(),
        format = file.format.name(),
        traces = traces.len(),
        skipped_lines = file.skipped_lines,
        spans_without_valid_trace_id = invalid,
        "trace file read"
    );
    if file.skipped_lines > 0 {
        eprintln!("{}: skipped {} malformed line(s)", path.display(), file.skipped_lines);
    }
    if traces.is_empty() {
        anyhow::bail!("{}: no traces", path.display());
    }
    Ok(traces)
}
