//! Offline assembly for the `train`/`score`/`eval` commands: a file's requests grouped into traces by trace id,
//! in order of each trace's first appearance (spans of one trace may be spread over lines and resources).

use hashbrown::HashMap;

use crate::record::split_request;
use crate::{Request, Trace, TraceId};

/// Groups every span of `requests` into traces, in first-appearance order. Spans without a 16-byte trace id (and
/// those of a request too deeply nested to encode) are counted in the second value and left out.
pub fn assemble(requests: impl IntoIterator<Item = Request>) -> (Vec<Trace>, usize) {
    let mut index: HashMap<TraceId, usize> = HashMap::new();
    let mut traces: Vec<Trace> = Vec::new();
    let mut invalid = 0usize;
    for req in requests {
        let result = split_request(&req, |rec| {
            let id = *rec.trace_id();
            if id == [0; 16] {
                invalid += 1;
                return;
            }
            let at = *index.entry(id).or_insert_with(|| {
                traces.push(Trace { id, spans: Vec::new() });
                traces.len() - 1
            });
            traces[at].spans.push(rec);
        });
        if result.is_err() {
            invalid += spanguard_otlp::span_count(&req);
        }
    }
    (traces, invalid)
}
