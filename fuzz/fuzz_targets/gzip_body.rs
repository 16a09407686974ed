//! `Content-Encoding: gzip` bodies: inflation must stop at the limit (no bomb) and never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(out) = spanguard_receiver::inflate(bytes::Bytes::copy_from_slice(data), Some("gzip"), LIMIT) {
        assert!(out.len() <= LIMIT, "inflated past the limit");
    }
});
