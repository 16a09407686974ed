//! Role identification (DistAppGuard §3): graph nodes are *roles*, not instances, so that all replicas of a
//! microservice — on any host, with any pid, container id or IP — are one node, and migration, rescheduling and
//! scaling do not change the graph's shape.
//!
//! - **Process role**: the event's `service` when the probe knows it, else the executable's content hash (or
//!   path): `exe:<name>@<hash prefix>`. Replicas run the same binary, so they share a role.
//! - **Thread role**: process role + thread name with digit runs normalized (`worker-3` → `worker-#`).
//! - **File**: the path with digit runs and hex runs (≥ 6 characters holding a digit: ids, hashes) normalized.
//!   Two kinds of file are one node each, because their names carry no role: the **code** a process loads
//!   (shared objects, interpreter modules, package metadata: [`CODE_FILES`]) — a restarted Python service reads
//!   hundreds of them, a different set each time as imports are lazy — and files in **temporary directories**
//!   (`/tmp/*`, `/var/tmp/*`, `/dev/shm/*`), whose names are random by design (`mkstemp`).
//! - **Socket peer**: the role that owns the remote endpoint as its local endpoint, learned from the events
//!   themselves; unresolved peers become `net:<proto>:<port>`, or `net:<proto>:ephemeral` for ports ≥ 32768.
//! - **Pipe peer**: the role at the other end, learned likewise; `pipe` when unknown.
//! - **Memory**: `mem:<process role>`.

/// Prefix of file nodes.
pub const FILE_PREFIX: &str = "file:";
/// Prefix of a process role's memory node.
pub const MEMORY_PREFIX: &str = "mem:";
/// Prefix of unresolved network peers.
pub const NET_PREFIX: &str = "net:";
/// The peer of a pipe whose other end is unknown.
pub const PIPE_PEER: &str = "pipe";
/// The node of every code file a process loads.
pub const CODE_FILES: &str = "file:<code>";

/// Directories whose entries are named at random by design.
const TEMP_DIRS: [&str; 3] = ["/tmp/", "/var/tmp/", "/dev/shm/"];
/// File extensions of loadable code (a trailing `.so.1.2` version counts as `.so`).
const CODE_EXTENSIONS: [&str; 14] = [
    "so", "pyc", "pyo", "py", "pyd", "pm", "pl", "rb", "jar", "class", "js", "mjs", "node", "wasm",
];
/// Directory names that hold installed packages.
const PACKAGE_DIRS: [&str; 5] = [
    "site-packages",
    "dist-packages",
    "node_modules",
    "lib-dynload",
    "__pycache__",
];

/// Whether `path` names loadable code: a shared object or an interpreter module, or anything inside an
/// installed-package directory (their metadata is read at import too).
pub fn is_code(path: &str) -> bool {
    let mut parts = path.split('/').filter(|p| !p.is_empty()).peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        if !last {
            if PACKAGE_DIRS.contains(&part) || part.ends_with(".dist-info") || part.ends_with(".egg-info") {
                return true;
            }
            continue;
        }
        return part.split('.').skip(1).any(|ext| CODE_EXTENSIONS.contains(&ext));
    }
    false
}

/// The node of a file: [`CODE_FILES`] for code, `file:<temp dir>*` for temporary files, else the normalized path.
pub fn file_node(path: &str) -> String {
    if is_code(path) {
        return CODE_FILES.to_owned();
    }
    if let Some(dir) = TEMP_DIRS.iter().find(|d| path.starts_with(**d)) {
        return format!("{FILE_PREFIX}{dir}*");
    }
    format!("{FILE_PREFIX}{}", normalize_path(path))
}

/// Whether a node is a file, a process's memory or a pipe whose other end the probe did not see: an edge to one
/// is an access, not a communication with another role (a pipe's reader that reads only in the next interval
/// leaves its writer's edge unresolved).
pub fn is_local_node(name: &str) -> bool {
    name.starts_with(FILE_PREFIX) || name.starts_with(MEMORY_PREFIX) || name == PIPE_PEER
}

/// Whether an edge is a communication (a socket or pipe between a process and its peer): neither end local.
pub fn is_communication(src: &str, dst: &str) -> bool {
    !is_local_node(src) && !is_local_node(dst)
}

/// Normalizes a thread name: digit runs become `#`.
pub fn normalize_thread(comm: &str) -> String {
    let mut out = String::with_capacity(comm.len());
    let mut in_digits = false;
    for c in comm.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// Normalizes a file path: hex runs of at least 6 characters that hold a digit (container ids, hashes), then
/// remaining digit runs, become `#`.
pub fn normalize_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_hexdigit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_hexdigit() {
                i += 1;
            }
            let run = &path[start..i];
            let has_digit = run.bytes().any(|b| b.is_ascii_digit());
            if run.len() >= 6 && has_digit {
                out.push('#');
            } else {
                // Short runs: only their digit parts are normalized (`v2` stays readable as `v#`).
                out.push_str(&normalize_thread(run));
            }
        } else {
            out.push(c as char);
            i += 1;
        }
    }
    out
}

/// Splits `host:port` (IPv6 `[addr]:port` too) into its port.
pub fn port_of(endpoint: &str) -> Option<u16> {
    endpoint.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

/// The first port of Linux's default ephemeral range: a port at or above it is a client's end of one connection,
/// not a service's address.
pub const EPHEMERAL_PORTS: u16 = 32768;

/// Whether an endpoint's port is ephemeral ([`EPHEMERAL_PORTS`]).
pub fn is_ephemeral(endpoint: &str) -> bool {
    port_of(endpoint).is_some_and(|p| p >= EPHEMERAL_PORTS)
}

/// The generic node of an unresolved socket peer.
pub fn unresolved_peer(proto: &str, remote: &str) -> String {
    match port_of(remote) {
        Some(p) if p < EPHEMERAL_PORTS => format!("{NET_PREFIX}{proto}:{p}"),
        Some(_) => format!("{NET_PREFIX}{proto}:ephemeral"),
        None => format!("{NET_PREFIX}{proto}:?"),
    }
}

/// The process role of an event's process.
pub fn process_role(service: Option<&str>, exe_hash: Option<&str>, exe: &str) -> String {
    if let Some(s) = service.filter(|s| !s.is_empty()) {
        return s.to_owned();
    }
    let name = exe.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or("?");
    let hash = match exe_hash.filter(|h| !h.is_empty()) {
        Some(h) => h.chars().take(8).collect::<String>(),
        None => format!("{:08x}", fnv1a(exe.as_bytes()) as u32),
    };
    format!("exe:{name}@{hash}")
}

/// FNV-1a: a stable, seedless hash for names that must not change between runs (a role name is part of the
/// model).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_threads_and_paths() {
        assert_eq!(normalize_thread("worker-3"), "worker-#");
        assert_eq!(normalize_thread("sctp12rx7"), "sctp#rx#");
        assert_eq!(
            normalize_path("/var/lib/docker/containers/3f2a9c1b0d4e/state-17.json"),
            "/var/lib/docker/containers/#/state-#.json"
        );
        assert_eq!(normalize_path("/etc/oai/mme.conf"), "/etc/oai/mme.conf");
        assert_eq!(
            normalize_path("/tmp/cafebabe/x"),
            "/tmp/cafebabe/x",
            "all-letter hex words stay"
        );
    }

    #[test]
    fn code_and_temporary_files_are_one_node_each() {
        for code in [
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/python3.11/__pycache__/enum.cpython-311.pyc",
            "/srv/app/.venv/lib/python3.11/site-packages/redis-5.2.1.dist-info/METADATA",
            "/usr/lib/python3.11/lib-dynload/_bz2.cpython-311-x86_64-linux-gnu.so",
            "/usr/lib/x86_64-linux-gnu/perl-base/Carp.pm",
            "/opt/app/node_modules/express/package.json",
            "/opt/app/lib/app.jar",
        ] {
            assert_eq!(file_node(code), CODE_FILES, "{code}");
        }
        for data in [
            "/etc/passwd",
            "/etc/ssl/openssl.cnf",
            "/srv/pgdata/base/16385/2617",
            "/srv/run/secrets/auth-signing.key",
            "/var/log/app.log",
            "/srv/app/config.json",
        ] {
            assert_ne!(file_node(data), CODE_FILES, "{data}");
        }
        assert_eq!(file_node("/tmp/cvyn7pdu"), "file:/tmp/*");
        assert_eq!(file_node("/dev/shm/psm_1a2b"), "file:/dev/shm/*");
        assert_eq!(file_node("/etc/oai/mme.conf"), "file:/etc/oai/mme.conf");
        assert!(is_local_node("file:/etc/passwd") && is_local_node("mem:auth"));
        assert!(is_local_node(PIPE_PEER));
        assert!(!is_local_node("net:tcp:4444") && !is_local_node("catalogue/gunicorn"));
    }

    #[test]
    fn roles_ignore_instances() {
        assert_eq!(process_role(Some("mme"), Some("ab"), "/x"), "mme");
        // The same binary (same content hash) installed at another path on another host: one role.
        let a = process_role(None, Some("9f2c1a77ee01"), "/opt/oai/bin/mme");
        let b = process_role(None, Some("9f2c1a77ee01"), "/usr/local/bin/mme");
        assert_eq!(a, "exe:mme@9f2c1a77");
        assert_eq!(a, b);
        assert_eq!(
            process_role(None, None, "/opt/x/bin/hss"),
            process_role(None, None, "/opt/x/bin/hss")
        );
        assert_eq!(unresolved_peer("udp", "10.0.0.9:2152"), "net:udp:2152");
        assert_eq!(unresolved_peer("tcp", "10.0.0.9:51234"), "net:tcp:ephemeral");
    }
}
