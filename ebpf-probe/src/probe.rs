//! The live probe: loads the kernel program (bpf/probe.bpf.c), attaches it to the raw tracepoints, and turns
//! what it aggregates into [`ExchangeEvent`]s once per interval.
//!
//! One thread owns everything: it waits on the ring buffer (resolving each newly used fd through `/proc` while
//! its process is alive), and at each interval boundary flips the kernel to the other aggregation map, lets
//! in-flight programs finish, and drains the previous one.

use std::collections::{HashMap, HashSet};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aya::maps::{Array, HashMap as BpfHashMap, MapData, PerCpuArray, PerCpuHashMap, RingBuf};
use aya::programs::RawTracePoint;
use aya::Ebpf;
use spanguard_telemetry::{names, Counter, Registry};

use crate::abi::{self, AggKey, AggVal, Config, Record};
use crate::resolve::{self, ExeHashes, ProcessInfo};
use crate::{ExchangeEvent, Op, Target};

static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/probe.bpf.o"));

/// Why the probe cannot run. Each message names what is missing and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Architecture or kernel too old.
    #[error("eBPF probe unsupported here: {0}")]
    Unsupported(String),
    /// Privileges.
    #[error("eBPF probe not permitted: {0}; run as root or grant CAP_BPF and CAP_PERFMON (setcap cap_bpf,cap_perfmon+ep spanguard), or use the unprivileged source (events.source: procfs)")]
    Permission(String),
    /// The kernel object was not compiled.
    #[error("eBPF probe not built: clang was not available when spanguard was compiled; install clang, llvm and libbpf-dev (scripts/setup does) and rebuild")]
    NotBuilt,
    /// Loading or attaching failed.
    #[error("eBPF probe failed to load: {0}")]
    Load(String),
    /// A bad scope.
    #[error("eBPF probe scope: {0}")]
    Scope(String),
}

fn load_err(e: impl std::fmt::Display) -> ProbeError {
    ProbeError::Load(e.to_string())
}

/// What to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every process but the probe's own.
    All,
    /// These processes (and their threads).
    Pids(Vec<u32>),
    /// Processes in these cgroup-v2 directories (containers).
    Cgroups(Vec<PathBuf>),
}

/// Names a microservice: the first rule whose pattern prefixes the container id, or occurs in the cgroup path,
/// or equals the executable's path or file name, wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRule {
    /// Container id prefix, cgroup path fragment, or executable path/name.
    pub pattern: String,
    /// The service name.
    pub service: String,
}

/// Probe settings.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// How often aggregates are drained into events.
    pub interval: Duration,
    /// What to watch.
    pub scope: Scope,
    /// Service names.
    pub services: Vec<ServiceRule>,
}

/// Counters, readable while the probe runs; in a registry ([`ProbeStats::registered`]) they are the metrics
/// themselves, counted where they happen.
#[derive(Debug, Default, Clone)]
pub struct ProbeStats {
    /// Events produced.
    pub events: Counter,
    /// Exchanges (syscalls) aggregated by the kernel program and drained.
    pub syscalls: Counter,
    /// Ring-buffer records the kernel could not queue.
    pub ringbuf_drops: Counter,
    /// Exchanges the kernel could not aggregate (map full).
    pub agg_full: Counter,
    /// Aggregates whose fd could not be resolved: closed (or its process gone) before user space could read
    /// what it was — typically files open for microseconds. Counted, never guessed.
    pub unresolved: Counter,
    /// Events the consumer could not take in time (its queue full).
    pub queue_full: Counter,
}

impl ProbeStats {
    /// Counters registered in `registry`: events as `spanguard_probe_events_total{source="ebpf"}`, what could
    /// not be recorded as `spanguard_probe_dropped_total{reason=…}`.
    pub fn registered(registry: &Registry) -> Self {
        let dropped = |reason| registry.counter(&names::PROBE_DROPPED, &[("reason", reason)]);
        Self {
            events: registry.counter(&names::PROBE_EVENTS, &[("source", "ebpf")]),
            ringbuf_drops: dropped("ringbuf_full"),
            agg_full: dropped("aggregation_map_full"),
            unresolved: dropped("unresolved_fd"),
            ..Self::default()
        }
    }
}

/// Checks what the probe needs, without loading anything.
pub fn preflight() -> Result<(), ProbeError> {
    if !cfg!(target_arch = "x86_64") {
        return Err(ProbeError::Unsupported(format!(
            "the kernel program reads syscall arguments at x86-64 register offsets; this is {}",
            std::env::consts::ARCH
        )));
    }
    if OBJECT.is_empty() {
        return Err(ProbeError::NotBuilt);
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if (major, minor) < (5, 8) {
        return Err(ProbeError::Unsupported(format!(
            "kernel {} is older than 5.8 (no BPF ring buffer); use events.source: procfs",
            release.trim()
        )));
    }
    let caps = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("CapEff:"))
                .map(|l| l[7..].trim().to_owned())
        })
        .and_then(|hex| u64::from_str_radix(&hex, 16).ok())
        .unwrap_or(0);
    let has = |bit: u32| caps & (1u64 << bit) != 0;
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_PERFMON: u32 = 38;
    const CAP_BPF: u32 = 39;
    if !(has(CAP_SYS_ADMIN) || (has(CAP_BPF) && has(CAP_PERFMON))) {
        return Err(ProbeError::Permission(format!(
            "effective capabilities {caps:#x} lack CAP_BPF+CAP_PERFMON (or CAP_SYS_ADMIN)"
        )));
    }
    // Loading works without these, but /proc/<pid>/fd of another user's process does not: its fds would all be
    // counted unresolved. Say so once, up front, rather than leave an empty graph to puzzle over.
    const CAP_DAC_READ_SEARCH: u32 = 2;
    const CAP_SYS_PTRACE: u32 = 19;
    for (bit, name) in [
        (CAP_SYS_PTRACE, "CAP_SYS_PTRACE"),
        (CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"),
    ] {
        if !has(bit) {
            tracing::warn!(
                "eBPF probe: no {name}: the fds of processes of other users cannot be resolved from /proc \
                 (counted as spanguard_probe_dropped_total{{reason=\"unresolved_fd\"}}); grant it or run as their user"
            );
        }
    }
    Ok(())
}

/// A running probe.
pub struct Probe {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    pids: Arc<Mutex<BpfHashMap<MapData, u32, u8>>>,
    /// Its counters.
    pub stats: Arc<ProbeStats>,
}

struct Maps {
    config: Array<MapData, Config>,
    agg: [PerCpuHashMap<MapData, AggKey, AggVal>; 2],
    known: BpfHashMap<MapData, [u8; 8], u64>,
    records: RingBuf<MapData>,
    counters: PerCpuArray<MapData, u64>,
}

fn take<T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>>(ebpf: &mut Ebpf, name: &str) -> Result<T, ProbeError> {
    let map = ebpf
        .take_map(name)
        .ok_or_else(|| ProbeError::Load(format!("the object has no map {name}")))?;
    T::try_from(map).map_err(load_err)
}

impl Probe {
    /// Loads, attaches and starts draining into `tx` every `config.interval`, counting into counters of its own.
    pub fn start(config: ProbeConfig, tx: SyncSender<ExchangeEvent>) -> Result<Probe, ProbeError> {
        Self::start_counted(config, tx, ProbeStats::default())
    }

    /// As [`Probe::start`], counting into `stats` (e.g. [`ProbeStats::registered`]).
    pub fn start_counted(
        config: ProbeConfig,
        tx: SyncSender<ExchangeEvent>,
        stats: ProbeStats,
    ) -> Result<Probe, ProbeError> {
        preflight()?;
        // Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
        let unlimited = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: setrlimit reads a valid rlimit struct; failure is harmless (newer kernels ignore the limit).
        unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &unlimited) };

        let mut ebpf = Ebpf::load(OBJECT).map_err(load_err)?;
        let mut cfg_map: Array<MapData, Config> = take(&mut ebpf, "config")?;
        let mut pids: BpfHashMap<MapData, u32, u8> = take(&mut ebpf, "pids")?;
        let mut cgroups: BpfHashMap<MapData, u64, u8> = take(&mut ebpf, "cgroups")?;
        let mode = match &config.scope {
            Scope::All => 0,
            Scope::Pids(list) => {
                for p in list {
                    pids.insert(*p, 1, 0).map_err(load_err)?;
                }
                1
            }
            Scope::Cgroups(dirs) => {
                for d in dirs {
                    let id = resolve::cgroup_id(d).map_err(|e| {
                        ProbeError::Scope(format!(
                            "{} is not a cgroup-v2 directory ({e}); give e.g. /sys/fs/cgroup/<slice>/<scope>",
                            d.display()
                        ))
                    })?;
                    cgroups.insert(id, 1, 0).map_err(load_err)?;
                }
                2
            }
        };
        cfg_map
            .set(
                0,
                Config {
                    self_tgid: std::process::id(),
                    mode,
                    active: 0,
                    pad: 0,
                },
                0,
            )
            .map_err(load_err)?;
        // The syscall hook: a BTF tracepoint where the kernel has BTF (direct register loads), else a raw one.
        let btf = aya::Btf::from_sys_fs().ok();
        let fast = match &btf {
            Some(btf) => {
                let p: &mut aya::programs::BtfTracePoint = ebpf
                    .program_mut("on_sys_exit")
                    .ok_or_else(|| ProbeError::Load("the object has no program on_sys_exit".into()))?
                    .try_into()
                    .map_err(load_err)?;
                match p
                    .load("sys_exit", btf)
                    .map_err(load_err)
                    .and_then(|_| p.attach().map_err(load_err))
                {
                    Ok(_) => true,
                    Err(e) => {
                        tracing::warn!(error = %e, "eBPF probe: BTF tracepoint unavailable, using a raw tracepoint");
                        false
                    }
                }
            }
            None => false,
        };
        let mut hooks = vec![("on_exec", "sched_process_exec"), ("on_exit", "sched_process_exit")];
        if !fast {
            hooks.push(("on_sys_exit_raw", "sys_exit"));
        }
        for (prog, tracepoint) in hooks {
            let p: &mut RawTracePoint = ebpf
                .program_mut(prog)
                .ok_or_else(|| ProbeError::Load(format!("the object has no program {prog}")))?
                .try_into()
                .map_err(load_err)?;
            p.load().map_err(load_err)?;
            p.attach(tracepoint)
                .map_err(|e| ProbeError::Load(format!("attaching to raw tracepoint {tracepoint}: {e}")))?;
        }
        let maps = Maps {
            config: cfg_map,
            agg: [take(&mut ebpf, "agg0")?, take(&mut ebpf, "agg1")?],
            known: take(&mut ebpf, "known")?,
            records: take(&mut ebpf, "records")?,
            counters: take(&mut ebpf, "counters")?,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(stats);
        let mut worker = Worker {
            ebpf,
            maps,
            config,
            tx,
            stats: stats.clone(),
            host: resolve::hostname(),
            hashes: ExeHashes::default(),
            procs: HashMap::new(),
            targets: HashMap::new(),
            closed: Vec::new(),
            threads: HashMap::new(),
            exited: HashSet::new(),
            active: 0,
            kernel_counted: [0; 2],
        };
        let s = stop.clone();
        let thread = std::thread::Builder::new()
            .name("ebpf-probe".into())
            .spawn(move || worker.run(&s))
            .map_err(load_err)?;
        Ok(Probe {
            stop,
            thread: Some(thread),
            pids: Arc::new(Mutex::new(pids)),
            stats,
        })
    }

    /// Adds a process to a `Scope::Pids` probe.
    pub fn add_pid(&self, pid: u32) -> Result<(), ProbeError> {
        self.pids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pid, 1, 0)
            .map_err(load_err)
    }

    /// Drains the last interval, detaches, and returns.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

struct Proc {
    info: ProcessInfo,
    service: Option<String>,
}

struct Worker {
    /// Keeps the programs attached.
    #[allow(dead_code)]
    ebpf: Ebpf,
    maps: Maps,
    config: ProbeConfig,
    tx: SyncSender<ExchangeEvent>,
    stats: Arc<ProbeStats>,
    host: String,
    hashes: ExeHashes,
    procs: HashMap<u32, Proc>,
    /// What each fd incarnation (process, fd, generation) is.
    targets: HashMap<(u32, i32, u64), FdTarget>,
    /// Incarnations closed since the last drain: forgotten after it (their last bytes are still in the map).
    closed: Vec<(u32, i32, u64)>,
    /// Thread names, kept so that a thread that exited before the drain is still named.
    threads: HashMap<(u32, u32), String>,
    exited: HashSet<u32>,
    active: u32,
    /// The kernel's drop totals (ring buffer, aggregation map) already counted.
    kernel_counted: [u64; 2],
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Worker {
    fn run(&mut self, stop: &AtomicBool) {
        let mut next = Instant::now() + self.config.interval;
        loop {
            let stopping = stop.load(Ordering::Relaxed);
            let wait = next
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50));
            let mut pfd = libc::pollfd {
                fd: self.maps.records.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd, for the duration of the call.
            unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as i32) };
            let mut batch = Vec::new();
            while let Some(item) = self.maps.records.next() {
                batch.extend(Record::decode(&item));
            }
            for r in batch {
                self.on_record(r);
            }
            if stopping || Instant::now() >= next {
                self.flush();
                next += self.config.interval;
                if Instant::now() > next {
                    next = Instant::now() + self.config.interval;
                }
            }
            if stopping {
                return;
            }
        }
    }

    fn proc_of(&mut self, tgid: u32) -> &Proc {
        let (hashes, rules) = (&mut self.hashes, &self.config.services);
        self.procs.entry(tgid).or_insert_with(|| {
            let info = resolve::process_info(tgid, hashes);
            let service = service_for(&info, rules);
            Proc { info, service }
        })
    }

    fn on_record(&mut self, r: Record) {
        match r.kind {
            abi::kind::FD => {
                // Resolve now, while the process is alive, and only trust it if that incarnation is still live.
                self.proc_of(r.tgid);
                self.thread_of(r.tgid, r.tid);
                let t = self.resolve_live(r.tgid, r.fd, r.ts);
                self.targets.insert((r.tgid, r.fd, r.ts), t);
            }
            abi::kind::CLOSE => self.closed.push((r.tgid, r.fd, r.ts)),
            abi::kind::CLOSE_RANGE => self.forget_fd_range(r.tgid, r.fd, r.ts),
            abi::kind::EXEC => {
                // A new program: new identity, and descriptors it inherited are announced afresh.
                self.procs.remove(&r.tgid);
                self.forget_fds(r.tgid);
                self.proc_of(r.tgid);
            }
            abi::kind::EXIT => {
                self.exited.insert(r.tgid);
            }
            _ => {}
        }
    }

    /// Reads what `fd` of `tgid` is, then checks the kernel still holds incarnation `gen` of it: if so, the
    /// link was read while that incarnation was open and describes it; if it was closed (and perhaps reused) in
    /// between, the answer could describe another file, and it is discarded.
    fn resolve_live(&mut self, tgid: u32, fd: i32, gen: u64) -> FdTarget {
        let Some(kind) = resolve::fd_kind(tgid, fd) else {
            return FdTarget::Unknown;
        };
        let live = self.maps.known.get(&fd_key(tgid, fd), 0).is_ok_and(|g| g == gen);
        if !live {
            return FdTarget::Unknown;
        }
        let mut sockets = None;
        match resolve::target_from(tgid, kind, &mut sockets) {
            Some(t) => FdTarget::Exchange(t),
            None => FdTarget::NotAnExchange,
        }
    }

    fn thread_of(&mut self, tgid: u32, tid: u32) -> String {
        let live = resolve::thread_name(tgid, tid);
        if live.is_empty() {
            return self.threads.get(&(tgid, tid)).cloned().unwrap_or_default();
        }
        if self.threads.len() > 100_000 {
            self.threads.clear();
        }
        self.threads.insert((tgid, tid), live.clone());
        live
    }

    /// close_range closed `[first, last]` of `tgid` with no close per fd: the kernel's incarnations of those fds
    /// end, so that their next use is announced (and resolved) afresh.
    fn forget_fd_range(&mut self, tgid: u32, first: i32, last: u64) {
        let in_range = |fd: i32| fd >= first && (fd as u64) <= last;
        let stale: Vec<([u8; 8], i32, u64)> = self
            .maps
            .known
            .iter()
            .filter_map(Result::ok)
            .filter_map(|(k, gen)| {
                let t = u32::from_ne_bytes([k[0], k[1], k[2], k[3]]);
                let fd = i32::from_ne_bytes([k[4], k[5], k[6], k[7]]);
                (t == tgid && in_range(fd)).then_some((k, fd, gen))
            })
            .collect();
        for (k, fd, gen) in stale {
            let _ = self.maps.known.remove(&k);
            self.closed.push((tgid, fd, gen));
        }
    }

    fn forget_fds(&mut self, tgid: u32) {
        self.targets.retain(|(t, _, _), _| *t != tgid);
        self.threads.retain(|(t, _), _| *t != tgid);
        let stale: Vec<[u8; 8]> = self
            .maps
            .known
            .keys()
            .filter_map(Result::ok)
            .filter(|k| u32::from_ne_bytes([k[0], k[1], k[2], k[3]]) == tgid)
            .collect();
        for k in stale {
            let _ = self.maps.known.remove(&k);
        }
    }

    fn flush(&mut self) {
        let old = self.active;
        self.active ^= 1;
        let cfg = Config {
            self_tgid: std::process::id(),
            mode: match self.config.scope {
                Scope::All => 0,
                Scope::Pids(_) => 1,
                Scope::Cgroups(_) => 2,
            },
            active: self.active,
            pad: 0,
        };
        if self.maps.config.set(0, cfg, 0).is_err() {
            tracing::error!("eBPF probe: cannot switch aggregation maps");
            return;
        }
        // Programs that read the old value finish within microseconds.
        std::thread::sleep(Duration::from_millis(5));
        let map = &mut self.maps.agg[old as usize];
        let keys: Vec<AggKey> = map.keys().filter_map(Result::ok).collect();
        let mut drained = Vec::with_capacity(keys.len());
        for k in keys {
            if let Ok(per_cpu) = map.get(&k, 0) {
                let v = per_cpu.iter().fold(AggVal::default(), |a, v| AggVal {
                    bytes: a.bytes + v.bytes,
                    count: a.count + v.count,
                });
                self.stats.syscalls.add(v.count);
                drained.push((k, v));
            }
            let _ = map.remove(&k);
        }
        let ts = now_ns();
        for (k, v) in drained {
            match self.event(k, v, ts) {
                Resolved::NotAnExchange => {}
                Resolved::Gone => {
                    self.stats.unresolved.inc();
                }
                Resolved::Event(e) => match self.tx.try_send(*e) {
                    Ok(()) => {
                        self.stats.events.inc();
                    }
                    Err(std::sync::mpsc::TrySendError::Full(e)) => {
                        self.stats.queue_full.inc();
                        // Block rather than lose it: the kernel keeps aggregating meanwhile.
                        if self.tx.send(e).is_err() {
                            return;
                        }
                    }
                    Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return,
                },
            }
        }
        for key in std::mem::take(&mut self.closed) {
            self.targets.remove(&key);
        }
        for tgid in std::mem::take(&mut self.exited) {
            self.procs.remove(&tgid);
            self.forget_fds(tgid);
        }
        let sum = |i: u32| {
            self.maps
                .counters
                .get(&i, 0)
                .map(|v| v.iter().sum::<u64>())
                .unwrap_or(0)
        };
        // The kernel keeps totals; the counters take what they added since the last drain.
        for (k, (index, counter)) in [
            (abi::counter::RINGBUF_DROPS, &self.stats.ringbuf_drops),
            (abi::counter::AGG_FULL, &self.stats.agg_full),
        ]
        .into_iter()
        .enumerate()
        {
            let total = sum(index);
            counter.add(total.saturating_sub(self.kernel_counted[k]));
            self.kernel_counted[k] = self.kernel_counted[k].max(total);
        }
    }

    fn event(&mut self, k: AggKey, v: AggVal, ts: u64) -> Resolved {
        let target = if k.op == abi::op::MUNMAP {
            Target::Memory
        } else {
            let t = match self.targets.get(&(k.tgid, k.fd, k.gen)) {
                Some(t) => t.clone(),
                // Its announcement was lost (ring buffer full, counted): resolve it now if still live.
                None => self.resolve_live(k.tgid, k.fd, k.gen),
            };
            let t = match t {
                FdTarget::Exchange(t) => t,
                FdTarget::NotAnExchange => return Resolved::NotAnExchange,
                FdTarget::Unknown => return Resolved::Gone,
            };
            match (t, k.peer()) {
                // sendto/recvfrom named the peer: it beats the (unconnected) socket's table entry.
                (Target::Socket { proto, local, .. }, Some(peer)) => Target::Socket {
                    proto,
                    local,
                    remote: peer,
                },
                (t, _) => t,
            }
        };
        let is_socket = matches!(target, Target::Socket { .. });
        let op = match (k.op, is_socket) {
            (abi::op::READ, true) | (abi::op::RECV, _) => Op::Recv,
            (abi::op::WRITE, true) | (abi::op::SEND, _) => Op::Send,
            (abi::op::READ, false) => Op::Read,
            (abi::op::WRITE, false) => Op::Write,
            (abi::op::MUNMAP, _) => Op::Munmap,
            _ => return Resolved::NotAnExchange,
        };
        let comm = self.thread_of(k.tgid, k.tid);
        let host = self.host.clone();
        let p = self.proc_of(k.tgid);
        if p.info.exe.is_empty() && comm.is_empty() {
            return Resolved::Gone;
        }
        Resolved::Event(Box::new(ExchangeEvent {
            ts,
            host,
            container: p.info.container.clone(),
            service: p.service.clone(),
            pid: k.tgid,
            tid: k.tid,
            exe: p.info.exe.clone(),
            exe_hash: p.info.exe_hash.clone(),
            comm,
            op,
            bytes: v.bytes,
            count: v.count,
            target,
            source: Some("ebpf".to_owned()),
        }))
    }
}

/// What an fd incarnation is.
#[derive(Clone)]
enum FdTarget {
    /// A file, socket or pipe.
    Exchange(Target),
    /// eventfd, epoll, …: not a data exchange spanguard models.
    NotAnExchange,
    /// Closed before it could be resolved.
    Unknown,
}

fn fd_key(tgid: u32, fd: i32) -> [u8; 8] {
    let mut k = [0u8; 8];
    k[..4].copy_from_slice(&tgid.to_ne_bytes());
    k[4..].copy_from_slice(&fd.to_ne_bytes());
    k
}

/// What an aggregate became.
enum Resolved {
    Event(Box<ExchangeEvent>),
    /// An fd that is not a data exchange (eventfd, epoll, …).
    NotAnExchange,
    /// Its process (or fd) was gone before it could be resolved.
    Gone,
}

/// The service a process belongs to, by the first matching rule.
pub fn service_for(info: &ProcessInfo, rules: &[ServiceRule]) -> Option<String> {
    let name = info.exe.rsplit('/').next().unwrap_or("");
    rules
        .iter()
        .find(|r| {
            info.container
                .as_deref()
                .is_some_and(|c| c.starts_with(&r.pattern) || r.pattern.starts_with(c))
                || (!r.pattern.is_empty() && info.cgroup.contains(&r.pattern))
                || info.exe == r.pattern
                || name == r.pattern
        })
        .map(|r| r.service.clone())
}
