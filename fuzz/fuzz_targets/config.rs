//! The config loader: YAML, `${env:…}` expansion, typed sections, validation — errors, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = spanguard_config::Config::from_yaml(text, |name| (name == "SET").then(|| "value".to_owned()));
});
