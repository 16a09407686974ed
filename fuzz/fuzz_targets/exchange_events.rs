//! Exchange-event lines (the graph detector's input, from files or the probe), then interval graphs and roles.
#![no_main]
use libfuzzer_sys::fuzz_target;
use spanguard_ebpf_probe::file::parse_line;
use spanguard_processor::graph::interval::build_intervals;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let events: Vec<_> = text.lines().filter_map(|l| parse_line(l).ok().flatten()).collect();
    let _ = build_intervals(&events, 1_000_000_000);
});
