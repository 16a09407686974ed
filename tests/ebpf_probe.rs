//! The eBPF probe on the real kernel: two processes exchange known byte counts over TCP, UDP, a pipe and a
//! file; the events must name the right processes, ops, peers and byte totals. Scoped in the kernel to a cgroup
//! made for the test, so nothing else on the machine appears.
//!
//! Needs root (or CAP_BPF + CAP_PERFMON) and a 5.8+ x86-64 kernel: where eBPF is not permitted the test prints
//! why and returns, unless `SPANGUARD_REQUIRE_EBPF=1` (set by `.ci/run`) makes that a failure.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use spanguard_ebpf_probe::{ExchangeEvent, Op, Probe, ProbeConfig, Scope, ServiceRule, Target};

/// A cgroup-v2 directory for the test, removed on drop.
struct TestCgroup(std::path::PathBuf);

impl TestCgroup {
    fn new() -> Option<Self> {
        for root in ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"] {
            let controllers = std::path::Path::new(root).join("cgroup.procs");
            if controllers.exists()
                && std::fs::read_to_string("/proc/mounts").is_ok_and(|m| m.contains(&format!("cgroup2 {root} ")))
            {
                let dir = std::path::Path::new(root).join(format!("spanguard-test-{}", std::process::id()));
                std::fs::create_dir_all(&dir).ok()?;
                return Some(TestCgroup(dir));
            }
        }
        None
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn sum(events: &[&ExchangeEvent], pid: u32, op: Op, pred: impl Fn(&Target) -> bool) -> (u64, u64) {
    events
        .iter()
        .filter(|e| e.pid == pid && e.op == op && pred(&e.target))
        .fold((0, 0), |(b, c), e| (b + e.bytes, c + e.count))
}

#[test]
fn records_tcp_udp_pipe_and_file_exchanges_with_exact_bytes() {
    if !common::ebpf_available() {
        return;
    }
    let cgroup = TestCgroup::new().expect("a cgroup-v2 hierarchy to scope the probe to");
    let work = tempfile::tempdir().unwrap();
    let mut helper = Command::new(common::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/exchange_pair.py"))
        .arg(work.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Into the cgroup before it starts, so that it and its child are the whole scope.
    std::fs::write(cgroup.0.join("cgroup.procs"), helper.id().to_string()).unwrap();

    let (tx, rx) = std::sync::mpsc::sync_channel(100_000);
    let probe = Probe::start(
        ProbeConfig {
            interval: Duration::from_millis(500),
            scope: Scope::Cgroups(vec![cgroup.0.clone()]),
            // Named by its cgroup, as a container would be.
            services: vec![ServiceRule {
                pattern: cgroup.0.file_name().unwrap().to_string_lossy().into_owned(),
                service: "exchange-pair".into(),
            }],
        },
        tx,
    )
    .expect("the probe loads");
    helper.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = helper.wait_with_output().unwrap();
    assert!(out.status.success());
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let stats = probe.stats.clone();
    probe.stop();
    let events: Vec<ExchangeEvent> = rx.try_iter().collect();

    let (parent, child) = (
        info["parent"].as_u64().unwrap() as u32,
        info["child"].as_u64().unwrap() as u32,
    );
    let pids: std::collections::HashSet<u32> = events.iter().map(|e| e.pid).collect();
    assert!(
        pids.iter().all(|p| *p == parent || *p == child),
        "only the cgroup's processes: {pids:?}"
    );
    let ours: Vec<&ExchangeEvent> = events.iter().collect();
    assert!(ours
        .iter()
        .all(|e| e.service.as_deref() == Some("exchange-pair") && e.source.as_deref() == Some("ebpf")));
    assert!(ours
        .iter()
        .all(|e| !e.exe.is_empty() && e.exe_hash.as_ref().is_some_and(|h| h.len() == 16)));

    let tcp_port = format!(":{}", info["tcp_port"]);
    let to_tcp =
        |t: &Target| matches!(t, Target::Socket { proto, remote, .. } if proto == "tcp" && remote.ends_with(&tcp_port));
    let from_tcp =
        |t: &Target| matches!(t, Target::Socket { proto, local, .. } if proto == "tcp" && local.ends_with(&tcp_port));
    assert_eq!(
        sum(&ours, child, Op::Send, to_tcp).0,
        100_000,
        "child sent 100000 bytes over TCP"
    );
    assert_eq!(
        sum(&ours, parent, Op::Recv, from_tcp).0,
        100_000,
        "parent received them"
    );
    assert_eq!(
        sum(&ours, parent, Op::Send, from_tcp).0,
        50_000,
        "parent answered 50000"
    );
    assert_eq!(sum(&ours, child, Op::Recv, to_tcp).0, 50_000, "child received them");

    let udp = format!("127.0.0.1:{}", info["udp_port"]);
    let udp_peer = format!("127.0.0.1:{}", info["udp_peer_port"]);
    let (bytes, calls) = sum(
        &ours,
        child,
        Op::Send,
        |t| matches!(t, Target::Socket { proto, remote, .. } if proto == "udp" && *remote == udp),
    );
    assert_eq!(
        (bytes, calls),
        (5_000, 5),
        "five 1000-byte datagrams, each sendto naming its peer"
    );
    let (bytes, calls) = sum(
        &ours,
        parent,
        Op::Recv,
        |t| matches!(t, Target::Socket { proto, local, remote } if proto == "udp" && *local == udp && *remote == udp_peer),
    );
    assert_eq!(
        (bytes, calls),
        (5_000, 5),
        "received from the child's address (recvfrom's source)"
    );

    let pipes = |pid: u32, op: Op| -> Vec<(String, u64)> {
        ours.iter()
            .filter(|e| e.pid == pid && e.op == op)
            .filter_map(|e| match &e.target {
                Target::Pipe { id } => Some((id.clone(), e.bytes)),
                _ => None,
            })
            .collect()
    };
    let written = pipes(parent, Op::Write);
    let read = pipes(child, Op::Read);
    let data_pipe = written
        .iter()
        .find(|(_, b)| *b == 4096)
        .expect("the parent wrote 4096 bytes into a pipe");
    assert!(
        read.iter().any(|(id, b)| *id == data_pipe.0 && *b == 4096),
        "the child read them from the same pipe: {read:?}"
    );

    let path = info["path"].as_str().unwrap();
    let is_file = |t: &Target| matches!(t, Target::File { path: p } if p == path);
    assert_eq!(sum(&ours, child, Op::Write, is_file).0, 8192);
    assert_eq!(sum(&ours, parent, Op::Read, is_file).0, 8192);
    // dup2 replaced an fd without a close: bytes before go to /dev/null, bytes after to the file.
    let redirected = format!("{path}.redirected");
    let to_null = |t: &Target| matches!(t, Target::File { path: p } if p == "/dev/null");
    let to_redirected = |t: &Target| matches!(t, Target::File { path: p } if *p == redirected);
    assert_eq!(sum(&ours, child, Op::Write, to_null).0, 111);
    assert_eq!(sum(&ours, child, Op::Write, to_redirected).0, 3333);

    assert_eq!(stats.ringbuf_drops.get(), 0);
    assert_eq!(stats.agg_full.get(), 0);
    assert!(stats.syscalls.get() > 0);
}

#[test]
fn the_cli_records_a_loopback_exchange() {
    if !common::ebpf_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ev.jsonl");
    let mut probe = Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args([
            "probe",
            "--out",
            out.to_str().unwrap(),
            "--duration",
            "5s",
            "--interval",
            "500ms",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let mut helper = Command::new(common::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/exchange_pair.py"))
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    helper.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let info: serde_json::Value = serde_json::from_slice(&helper.wait_with_output().unwrap().stdout).unwrap();
    let status = probe.wait().unwrap();
    assert!(status.success());
    let events = spanguard_ebpf_probe::file::read_events(&out).unwrap();
    let child = info["child"].as_u64().unwrap() as u32;
    let tcp_port = format!(":{}", info["tcp_port"]);
    let sent: u64 = events
        .iter()
        .filter(|e| e.pid == child && e.op == Op::Send)
        .filter(|e| matches!(&e.target, Target::Socket { proto, remote, .. } if proto == "tcp" && remote.ends_with(&tcp_port)))
        .map(|e| e.bytes)
        .sum();
    assert_eq!(sent, 100_000);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut probe.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("ring buffer 0"), "{err}");
}

#[test]
fn the_procfs_fallback_sees_tcp_bytes_per_socket_unprivileged() {
    // No eBPF involved: only /proc and sock_diag, which need no privileges. Scoped by cgroup when one can be
    // made (root), else by the helper's pid (its forked child is then unseen).
    let cgroup = TestCgroup::new();
    let work = tempfile::tempdir().unwrap();
    let mut helper = Command::new(common::python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/exchange_pair.py"))
        .arg(work.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let scope = match &cgroup {
        Some(c) => {
            std::fs::write(c.0.join("cgroup.procs"), helper.id().to_string()).unwrap();
            Scope::Cgroups(vec![c.0.clone()])
        }
        None => Scope::Pids(vec![helper.id()]),
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(100_000);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let source = spanguard_ebpf_probe::procfs::spawn(Duration::from_millis(200), scope, Vec::new(), tx, stop.clone());
    std::thread::sleep(Duration::from_millis(450));
    helper.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = helper.wait_with_output().unwrap();
    assert!(out.status.success());
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    source.join().unwrap();
    let events: Vec<ExchangeEvent> = rx.try_iter().collect();
    let ours: Vec<&ExchangeEvent> = events.iter().collect();
    assert!(
        ours.iter()
            .all(|e| e.source.as_deref() == Some("procfs") && e.tid == e.pid),
        "labelled, process-level"
    );
    let parent = info["parent"].as_u64().unwrap() as u32;
    let tcp_port = format!(":{}", info["tcp_port"]);
    let from_tcp =
        |t: &Target| matches!(t, Target::Socket { proto, local, .. } if proto == "tcp" && local.ends_with(&tcp_port));
    assert_eq!(
        sum(&ours, parent, Op::Recv, from_tcp).0,
        100_000,
        "received bytes are exact"
    );
    assert_eq!(
        sum(&ours, parent, Op::Send, from_tcp).0,
        50_000,
        "the server side did not connect: no SYN byte"
    );
    if cgroup.is_some() {
        let child = info["child"].as_u64().unwrap() as u32;
        let to_tcp = |t: &Target| matches!(t, Target::Socket { proto, remote, .. } if proto == "tcp" && remote.ends_with(&tcp_port));
        let sent = sum(&ours, child, Op::Send, to_tcp).0;
        assert!(
            (100_000..=100_001).contains(&sent),
            "the connecting side may count its SYN: {sent}"
        );
    }
    // The pipe and file writes show only as the parent's other-io aggregate.
    let other = |t: &Target| matches!(t, Target::File { path } if path == "procfs:other-io");
    assert!(sum(&ours, parent, Op::Write, other).0 >= 4096);
}
