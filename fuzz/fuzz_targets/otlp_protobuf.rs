//! OTLP/protobuf request bodies, as the gRPC and HTTP receivers get them, then the pipeline.
#![no_main]
use libfuzzer_sys::fuzz_target;
use spanguard_receiver::{decode_request, Encoding};

#[path = "pipeline.rs"]
mod pipeline;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = decode_request(data, Encoding::Protobuf) {
        pipeline::run(req);
    }
});
