//! What `/proc` says about a process: what its file descriptors are (file path, socket endpoints, pipe), its
//! executable (path and content hash, cached per inode), thread names, and its container. Shared by the eBPF
//! probe and the procfs fallback.

use std::collections::HashMap;
use std::io::Read;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Target;

/// A socket from `/proc/<pid>/net/{tcp,tcp6,udp,udp6}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketEntry {
    /// `tcp` or `udp`.
    pub proto: &'static str,
    /// Local `ip:port`.
    pub local: String,
    /// Remote `ip:port` (`0.0.0.0:0` when unconnected).
    pub remote: String,
}

/// Parses one `/proc/net/{tcp,udp}[6]` table into inode → socket.
pub fn parse_socket_table(text: &str, proto: &'static str, v6: bool, out: &mut HashMap<u64, SocketEntry>) {
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let (Some(local), Some(remote), Ok(inode)) = (endpoint(f[1], v6), endpoint(f[2], v6), f[9].parse::<u64>())
        else {
            continue;
        };
        if inode != 0 {
            out.insert(inode, SocketEntry { proto, local, remote });
        }
    }
}

/// `0100007F:1F90` → `127.0.0.1:8080` (the kernel prints addresses as native-endian 32-bit words).
fn endpoint(hex: &str, v6: bool) -> Option<String> {
    let (addr, port) = hex.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    if v6 {
        // ASCII first: slicing 8-byte words out of a string with multi-byte characters would split one (the
        // fuzzer found that a malformed table line panicked here).
        if addr.len() != 32 || !addr.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; 16];
        for w in 0..4 {
            let word = u32::from_str_radix(&addr[w * 8..w * 8 + 8], 16).ok()?;
            bytes[w * 4..w * 4 + 4].copy_from_slice(&word.to_le_bytes());
        }
        let ip = Ipv6Addr::from(bytes);
        // IPv4-mapped addresses read better as IPv4 (and match the IPv4 side of a peer).
        Some(match ip.to_ipv4_mapped() {
            Some(v4) => format!("{v4}:{port}"),
            None => format!("[{ip}]:{port}"),
        })
    } else {
        let word = u32::from_str_radix(addr, 16).ok()?;
        Some(format!("{}:{port}", Ipv4Addr::from(word.to_le_bytes())))
    }
}

/// The sockets of the network namespace `pid` lives in.
pub fn sockets_of(pid: u32) -> HashMap<u64, SocketEntry> {
    let mut out = HashMap::new();
    for (file, proto, v6) in [
        ("tcp", "tcp", false),
        ("tcp6", "tcp", true),
        ("udp", "udp", false),
        ("udp6", "udp", true),
    ] {
        if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{file}")) {
            parse_socket_table(&text, proto, v6, &mut out);
        }
    }
    out
}

/// What a file descriptor refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdKind {
    /// A file (or device) by path.
    File(String),
    /// A socket, by inode.
    Socket(u64),
    /// A pipe, by inode.
    Pipe(u64),
    /// Something else (eventfd, epoll, …): not a data exchange spanguard models.
    Other,
}

/// Reads `/proc/<pid>/fd/<fd>`.
pub fn fd_kind(pid: u32, fd: i32) -> Option<FdKind> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let s = link.to_string_lossy();
    let inode = |prefix: &str| {
        s.strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(']'))
            .and_then(|n| n.parse().ok())
    };
    Some(if let Some(i) = inode("socket:[") {
        FdKind::Socket(i)
    } else if let Some(i) = inode("pipe:[") {
        FdKind::Pipe(i)
    } else if s.starts_with('/') {
        FdKind::File(s.into_owned())
    } else {
        FdKind::Other
    })
}

/// Resolves `fd` of `pid` to an exchange target (`None` for descriptors that are not data exchanges, or gone).
pub fn target_of(pid: u32, fd: i32, sockets: &mut Option<HashMap<u64, SocketEntry>>) -> Option<Target> {
    target_from(pid, fd_kind(pid, fd)?, sockets)
}

/// The exchange target of a descriptor of `pid` whose kind is known (`None`: not a data exchange).
pub fn target_from(pid: u32, kind: FdKind, sockets: &mut Option<HashMap<u64, SocketEntry>>) -> Option<Target> {
    match kind {
        FdKind::File(path) => Some(Target::File { path }),
        FdKind::Pipe(inode) => Some(Target::Pipe { id: inode.to_string() }),
        FdKind::Socket(inode) => {
            let table = sockets.get_or_insert_with(|| sockets_of(pid));
            Some(match table.get(&inode) {
                Some(e) => Target::Socket {
                    proto: e.proto.to_owned(),
                    local: e.local.clone(),
                    remote: e.remote.clone(),
                },
                // Unix sockets and sockets gone from the table: known to be sockets, peers unknown.
                None => Target::Socket {
                    proto: "unix".to_owned(),
                    local: String::new(),
                    remote: String::new(),
                },
            })
        }
        FdKind::Other => None,
    }
}

/// A process's identity, as exchange events carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Executable path.
    pub exe: String,
    /// Content hash of the executable (first 16 hex digits of its SHA-256).
    pub exe_hash: Option<String>,
    /// Container id from the cgroup path, when in one.
    pub container: Option<String>,
    /// The cgroup path (v2, or the first v1 line).
    pub cgroup: String,
}

/// Executable hashes, cached per (device, inode, size, mtime): a binary is hashed once however many processes
/// run it.
#[derive(Default)]
pub struct ExeHashes {
    cache: HashMap<(u64, u64, u64, i64), String>,
}

impl ExeHashes {
    /// The content hash of `/proc/<pid>/exe`.
    pub fn hash(&mut self, pid: u32) -> Option<String> {
        let path = format!("/proc/{pid}/exe");
        let m = std::fs::metadata(&path).ok()?;
        let key = (m.dev(), m.ino(), m.size(), m.mtime());
        if let Some(h) = self.cache.get(&key) {
            return Some(h.clone());
        }
        let mut f = std::fs::File::open(&path).ok()?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f.read(&mut buf).ok()?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let digest = hasher.finalize();
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        if self.cache.len() > 10_000 {
            self.cache.clear();
        }
        self.cache.insert(key, hex.clone());
        Some(hex)
    }
}

/// A container id in a cgroup path: the longest run of 64 hex digits (docker, containerd, cri-o all embed one).
pub fn container_id(cgroup: &str) -> Option<String> {
    let b = cgroup.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_hexdigit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_hexdigit() {
                i += 1;
            }
            if i - start == 64 {
                return Some(cgroup[start..start + 12].to_owned());
            }
        } else {
            i += 1;
        }
    }
    None
}

/// Reads a process's identity.
pub fn process_info(pid: u32, hashes: &mut ExeHashes) -> ProcessInfo {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cgroup_text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let cgroup = cgroup_text
        .lines()
        .find(|l| l.starts_with("0::"))
        .or_else(|| cgroup_text.lines().next())
        .map(|l| l.splitn(3, ':').nth(2).unwrap_or("").to_owned())
        .unwrap_or_default();
    ProcessInfo {
        exe,
        exe_hash: hashes.hash(pid),
        container: container_id(&cgroup_text),
        cgroup,
    }
}

/// A thread's name.
pub fn thread_name(pid: u32, tid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
        .or_else(|_| std::fs::read_to_string(format!("/proc/{pid}/comm")))
        .map(|s| s.trim_end().to_owned())
        .unwrap_or_default()
}

/// This host's name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The cgroup-v2 id of a cgroup directory (what `bpf_get_current_cgroup_id` returns): its inode number.
pub fn cgroup_id(path: &Path) -> std::io::Result<u64> {
    Ok(std::fs::metadata(path)?.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_table_lines_are_skipped_not_panicked_on() {
        // 32 bytes, but not 32 ASCII hex digits: found by the kernel_records fuzz target.
        let line = format!(
            "  0: {}:0050 00000000000000000000000000000000:0000 0A 0:0 00:0 0 0 0 1234",
            "é".repeat(16)
        );
        let mut out = HashMap::new();
        parse_socket_table(&format!("header\n{line}\n"), "tcp", true, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn parses_socket_tables_as_the_kernel_prints_them() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 20 4 30 10 -1\n";
        let mut out = HashMap::new();
        parse_socket_table(tcp, "tcp", false, &mut out);
        assert_eq!(
            out[&4242],
            SocketEntry {
                proto: "tcp",
                local: "127.0.0.1:8080".into(),
                remote: "127.0.0.1:50000".into()
            }
        );
        let tcp6 = "  sl  local_address                         remote_address                        st\n   0: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1\n";
        parse_socket_table(tcp6, "tcp", true, &mut out);
        assert_eq!(out[&77].local, "127.0.0.1:8080", "IPv4-mapped shown as IPv4");
    }

    #[test]
    fn finds_container_ids() {
        let id: String = (0..64).map(|i| char::from(b"0123456789abcdef"[i * 7 % 16])).collect();
        let line = format!("0::/system.slice/docker-{id}.scope");
        assert_eq!(container_id(&line).as_deref(), Some(&id[..12]));
        assert_eq!(container_id("0::/user.slice/user-0.slice"), None);
        assert_eq!(
            container_id(&format!("0::/x/{}", &id[..63])),
            None,
            "63 hex digits are not an id"
        );
    }

    #[test]
    fn resolves_our_own_process() {
        let me = std::process::id();
        let info = process_info(me, &mut ExeHashes::default());
        assert!(info.exe.contains("spanguard_ebpf_probe"), "{}", info.exe);
        assert_eq!(info.exe_hash.as_ref().map(String::len), Some(16));
        assert!(!thread_name(me, me).is_empty());
        let dir = std::env::temp_dir().join(format!("sg-resolve-{me}"));
        std::fs::write(&dir, b"x").unwrap();
        let f = std::fs::File::open(&dir).unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&f);
        assert_eq!(fd_kind(me, fd), Some(FdKind::File(dir.display().to_string())));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut sockets = None;
        let t = target_of(me, std::os::fd::AsRawFd::as_raw_fd(&listener), &mut sockets);
        assert_eq!(
            t,
            Some(Target::Socket {
                proto: "tcp".into(),
                local: format!("127.0.0.1:{port}"),
                remote: "0.0.0.0:0".into()
            })
        );
        drop(f);
        std::fs::remove_file(dir).unwrap();
    }
}
