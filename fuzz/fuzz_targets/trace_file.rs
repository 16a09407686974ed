//! Trace files (`spanguard train/score --traces`): OTLP/JSON lines or Jaeger JSON, strict and skipping.
#![no_main]
use libfuzzer_sys::fuzz_target;
use spanguard_receiver::file::parse_trace_text;

fuzz_target!(|data: &[u8]| {
    let _ = parse_trace_text(data, "fuzz", false);
    let _ = parse_trace_text(data, "fuzz", true);
});
