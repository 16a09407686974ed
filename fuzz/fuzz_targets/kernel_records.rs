//! What the probe reads from the kernel: ring-buffer records, /proc/net socket tables, sock_diag datagrams,
//! /proc/<pid>/cgroup paths.
#![no_main]
use libfuzzer_sys::fuzz_target;
use spanguard_ebpf_probe::abi::Record;
use spanguard_ebpf_probe::procfs::parse_dump;
use spanguard_ebpf_probe::resolve::{container_id, parse_socket_table};

fuzz_target!(|data: &[u8]| {
    let _ = Record::decode(data);
    let mut counters = Vec::new();
    let _ = parse_dump(data, &mut counters);
    if let Ok(text) = std::str::from_utf8(data) {
        let mut table = std::collections::HashMap::new();
        parse_socket_table(text, "tcp", false, &mut table);
        parse_socket_table(text, "tcp6", true, &mut table);
        let _ = container_id(text);
    }
});
