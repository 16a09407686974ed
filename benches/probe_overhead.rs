//! The eBPF probe's cost (issue 5): a loopback TCP echo in a child process, 4 syscalls per round trip (write,
//! read, write, read), run alternately without and with the probe watching everything.
//!
//! - Full speed: round trips/s without and with the probe → the workload's slowdown (the in-kernel programs run
//!   inside the workload's syscalls, so their cost shows here).
//! - 100 k syscalls/s (25 k round trips/s): the probe thread's own CPU, from /proc/self/task/<tid>/stat.
//!
//! Needs root. Run: `cargo bench --bench probe_overhead` (add `-- 5` for 5 s per run).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use spanguard_ebpf_probe::{preflight, Probe, ProbeConfig, Scope};

fn echo(seconds: f64, rate: Option<f64>) -> u64 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_nodelay(true).unwrap();
        let mut buf = [0u8; 64];
        while s.read_exact(&mut buf).is_ok() {
            if s.write_all(&buf).is_err() {
                break;
            }
        }
    });
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_nodelay(true).unwrap();
    let mut buf = [7u8; 64];
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        c.write_all(&buf).unwrap();
        c.read_exact(&mut buf).unwrap();
        n += 1;
        if let Some(r) = rate {
            let due = start + Duration::from_secs_f64(n as f64 / r);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }
    drop(c);
    let _ = server.join();
    n
}

/// Runs the echo in a child process; returns round trips per second.
fn child_run(seconds: f64, rate: Option<f64>) -> f64 {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(exe);
    cmd.env("PROBE_BENCH_CHILD", seconds.to_string());
    if let Some(r) = rate {
        cmd.env("PROBE_BENCH_RATE", r.to_string());
    }
    let out = cmd.output().unwrap();
    let n: f64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0.0);
    n / seconds
}

fn thread_cpu_seconds(name: &str) -> Option<f64> {
    let ticks = 100.0; // USER_HZ
    for t in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let stat = std::fs::read_to_string(t.path().join("stat")).ok()?;
            let after = &stat[stat.rfind(')')? + 2..];
            let f: Vec<&str> = after.split_whitespace().collect();
            let (u, s): (f64, f64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
            return Some((u + s) / ticks);
        }
    }
    None
}

fn main() {
    if let Ok(secs) = std::env::var("PROBE_BENCH_CHILD") {
        let rate = std::env::var("PROBE_BENCH_RATE").ok().and_then(|r| r.parse().ok());
        println!("{}", echo(secs.parse().unwrap_or(3.0), rate));
        return;
    }
    if let Err(e) = preflight() {
        eprintln!("probe_overhead: skipped: {e}");
        return;
    }
    let secs: f64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(3.0);
    let start_probe = || {
        let (tx, rx) = std::sync::mpsc::sync_channel(1 << 20);
        let p = Probe::start(
            ProbeConfig {
                interval: Duration::from_secs(1),
                scope: Scope::All,
                services: Vec::new(),
            },
            tx,
        )
        .unwrap();
        let drain = std::thread::spawn(move || rx.iter().count());
        (p, drain)
    };
    // The kernel's own account of the programs' cost (run time and count per program, while `_stats` is held).
    let _stats = aya::sys::enable_stats(aya::sys::Stats::RunTime).ok();
    let program_time = || -> (u64, u64) {
        aya::programs::loaded_programs()
            .flatten()
            .filter(|p| p.name_as_str().is_some_and(|n| n.starts_with("on_sys_exit")))
            .fold((0, 0), |(t, c), p| {
                (t + p.run_time().as_nanos() as u64, c + p.run_count())
            })
    };
    let mut kernel_ns_per_traced = Vec::new();
    // Full speed, alternating, three pairs.
    let mut ratios = Vec::new();
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let a = child_run(secs, None);
        let (p, drain) = start_probe();
        let (t0, c0) = program_time();
        let s0 = p.stats.syscalls.get();
        let b = child_run(secs, None);
        std::thread::sleep(Duration::from_millis(1100));
        let (t1, c1) = program_time();
        let traced = p.stats.syscalls.get() - s0;
        eprintln!(
            "    sys_exit program: {} runs, {:.0} ns per run; {} traced syscalls",
            c1 - c0,
            (t1 - t0) as f64 / (c1 - c0).max(1) as f64,
            traced
        );
        kernel_ns_per_traced.push((t1 - t0) as f64 / traced.max(1) as f64);
        p.stop();
        let _ = drain.join();
        ratios.push(b / a);
        without.push(a);
        with.push(b);
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[1];
    // 100 k syscalls/s: the probe thread's CPU.
    let (p, drain) = start_probe();
    let cpu0 = thread_cpu_seconds("ebpf-probe").unwrap_or(0.0);
    let t0 = Instant::now();
    let achieved = child_run(secs, Some(25_000.0));
    let cpu = thread_cpu_seconds("ebpf-probe").unwrap_or(0.0) - cpu0;
    let wall = t0.elapsed().as_secs_f64();
    let syscalls = p.stats.syscalls.get();
    p.stop();
    let events = drain.join().unwrap_or(0);
    println!("loopback echo, {secs} s per run, 4 syscalls per round trip");
    println!(
        "  full speed without probe: {:>9.0} round trips/s (runs: {:?})",
        without.iter().sum::<f64>() / 3.0,
        without.iter().map(|v| v.round()).collect::<Vec<_>>()
    );
    println!(
        "  full speed with probe:    {:>9.0} round trips/s (runs: {:?})",
        with.iter().sum::<f64>() / 3.0,
        with.iter().map(|v| v.round()).collect::<Vec<_>>()
    );
    println!(
        "  slowdown (median of 3 paired runs, noisy on a shared VM): {:.1} %",
        (1.0 - median) * 100.0
    );
    kernel_ns_per_traced.sort_by(f64::total_cmp);
    let per = kernel_ns_per_traced[1];
    let rt = without.iter().sum::<f64>() / 3.0;
    println!(
        "  kernel program time per traced syscall (all sys_exit runs of the machine included): {per:.0} ns → {:.2} % of a {:.1} µs round trip of 4 syscalls",
        100.0 * 4.0 * per / (1e9 / rt),
        1e6 / rt
    );
    println!(
        "  at {:.0} syscalls/s: probe thread CPU {:.2} % of a core ({} syscalls traced, {} events)",
        achieved * 4.0,
        100.0 * cpu / wall,
        syscalls,
        events
    );
}
