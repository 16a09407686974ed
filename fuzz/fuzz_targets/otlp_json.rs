//! OTLP/JSON request bodies (hex ids, enum integers, int64 as strings), then the pipeline.
#![no_main]
use libfuzzer_sys::fuzz_target;
use spanguard_receiver::{decode_request, Encoding};

#[path = "pipeline.rs"]
mod pipeline;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = decode_request(bytes::Bytes::copy_from_slice(data), Encoding::Json) {
        pipeline::run(records);
    }
});
