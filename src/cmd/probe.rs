//! `spanguard probe`: records live exchange events to a JSON-lines file, for training and tests.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use spanguard_config::{EventSource, EventsConfig};
use spanguard_ebpf_probe::ServiceRule;
use spanguard_telemetry::Registry;

/// `spanguard probe`.
#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    /// Where to write events (JSON lines; `-` for stdout).
    #[arg(long)]
    pub out: PathBuf,
    /// How long to record (e.g. 30s); until Ctrl-C when absent.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// How often the kernel's aggregates become events.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Watch only processes in this cgroup-v2 directory (repeatable).
    #[arg(long, conflicts_with = "pid")]
    pub cgroup: Vec<PathBuf>,
    /// Watch only this process (repeatable).
    #[arg(long)]
    pub pid: Vec<u32>,
    /// `ebpf` (exact, needs root or CAP_BPF+CAP_PERFMON) or `procfs` (unprivileged: /proc/<pid>/io and TCP
    /// counters, process-level and coarser; it polls every --interval, so the bytes of a connection that opens
    /// and closes between two polls are missed).
    #[arg(long, default_value = "ebpf", value_parser = live_source)]
    pub source: EventSource,
    /// Name a microservice: PATTERN=NAME, PATTERN matching a container id prefix, a cgroup path fragment, or an
    /// executable path or file name (repeatable).
    #[arg(long, value_parser = parse_rule)]
    pub service: Vec<ServiceRule>,
}

/// `--source`: one of the config's live sources (`processors.<name>.graph.events.source`).
fn live_source(s: &str) -> Result<EventSource, String> {
    match EventSource::from_name(s) {
        Some(source @ (EventSource::Ebpf | EventSource::Procfs)) => Ok(source),
        _ => Err(format!("{s:?}: the live sources are ebpf and procfs")),
    }
}

impl ProbeArgs {
    /// The event source these flags ask for, as `processors.<name>.graph.events` would say it.
    pub fn events(&self) -> EventsConfig {
        EventsConfig {
            source: self.source,
            path: None,
            interval: self.interval,
            cgroups: self.cgroup.clone(),
            pids: self.pid.clone(),
            services: self
                .service
                .iter()
                .map(|r| (r.pattern.clone(), r.service.clone()))
                .collect(),
        }
    }
}

fn parse_rule(s: &str) -> Result<ServiceRule, String> {
    let (pattern, service) = s.split_once('=').ok_or_else(|| format!("{s:?} is not PATTERN=NAME"))?;
    Ok(ServiceRule {
        pattern: pattern.to_owned(),
        service: service.to_owned(),
    })
}

/// Records until the duration passes (or SIGINT/SIGTERM), then prints what the probe counted.
pub fn probe_cmd(args: &ProbeArgs) -> anyhow::Result<()> {
    // A pid that names no process would record nothing for as long as asked: say so now.
    if let Some(pid) = args
        .pid
        .iter()
        .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
    {
        anyhow::bail!("--pid {pid}: no such process");
    }
    if let Some(c) = args.cgroup.iter().find(|c| !c.join("cgroup.procs").is_file()) {
        anyhow::bail!(
            "--cgroup {}: not a cgroup-v2 directory (no cgroup.procs in it; cgroup v2 is mounted at /sys/fs/cgroup or /sys/fs/cgroup/unified)",
            c.display()
        );
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(65_536);
    let registry = Registry::new();
    let source = spanguard_ebpf_probe::start(&args.events(), &registry, tx)?;
    let mut out = super::output::create(&args.out)?;
    let stop = crate::signals::stop_flag()?;
    let started = Instant::now();
    let mut written = 0u64;
    let mut write_all =
        |rx: &std::sync::mpsc::Receiver<_>, out: &mut Box<dyn Write>, wait: Duration| -> anyhow::Result<()> {
            if let Ok(e) = rx.recv_timeout(wait) {
                serde_json::to_writer(&mut *out, &e)?;
                out.write_all(b"\n")?;
                written += 1;
                while let Ok(e) = rx.try_recv() {
                    serde_json::to_writer(&mut *out, &e)?;
                    out.write_all(b"\n")?;
                    written += 1;
                }
                out.flush()?;
            }
            Ok(())
        };
    while !stop.load(std::sync::atomic::Ordering::Relaxed) && args.duration.is_none_or(|d| started.elapsed() < d) {
        write_all(&rx, &mut out, Duration::from_millis(200))?;
    }
    let stats = source.probe_stats();
    source.stop();
    write_all(&rx, &mut out, Duration::from_millis(50))?;
    let Some(stats) = stats else {
        eprintln!("probe (procfs): {written} events written");
        return Ok(());
    };
    eprintln!(
        "probe: {} events written; {} syscalls seen; dropped: ring buffer {}, aggregation map full {}; unresolved {}",
        written,
        stats.syscalls.get(),
        stats.ringbuf_drops.get(),
        stats.agg_full.get(),
        stats.unresolved.get()
    );
    Ok(())
}
