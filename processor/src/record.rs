//! Span records: the unit that travels through assembly and windowing. They live in `spanguard-otlp` (the
//! receiver makes them and the exporter writes them out); this module adds the processor's own entry for
//! decoded requests (trace files, spans built in process).

pub use spanguard_otlp::{Appended, ResourceCtx, ScopeCtx, SpanRecord, WireError};

use crate::Request;

/// Splits a decoded request into records, calling `sink` for each.
pub fn split_request(req: &Request, sink: impl FnMut(SpanRecord)) -> Result<(), WireError> {
    spanguard_otlp::from_request(req)?.into_iter().for_each(sink);
    Ok(())
}
