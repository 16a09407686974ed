//! OTLP/protobuf request bodies, as the gRPC and HTTP receivers get them, then the pipeline. The scan must agree
//! with prost: a body it accepts, prost decodes to the same request as the scan's records re-encoded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use prost::Message;
use spanguard_receiver::{decode_request, Encoding, Request};

#[path = "pipeline.rs"]
mod pipeline;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = decode_request(bytes::Bytes::copy_from_slice(data), Encoding::Protobuf) {
        let mut theirs = Request::decode(data).expect("prost decodes what the scan accepted");
        for rs in &mut theirs.resource_spans {
            rs.scope_spans.retain(|ss| !ss.spans.is_empty());
        }
        theirs.resource_spans.retain(|rs| !rs.scope_spans.is_empty());
        let ours = Request::decode(&spanguard_otlp::encode_request(&records)[..]).expect("valid output");
        assert_eq!(ours, theirs, "the scan and prost see the same request");
        pipeline::run(records);
    }
});
