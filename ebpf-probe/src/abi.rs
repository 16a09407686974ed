//! The structs shared with the kernel program (bpf/probe.bpf.c), byte for byte. Each has a test of its layout.

/// `struct config`: the probe's settings, in the one-entry `config` array.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Config {
    /// The probe's own process, never recorded.
    pub self_tgid: u32,
    /// 0 all, 1 listed pids, 2 listed cgroups.
    pub mode: u32,
    /// Which aggregation map the kernel writes into (0 or 1).
    pub active: u32,
    /// Padding.
    pub pad: u32,
}

/// `struct agg_key`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AggKey {
    /// Process.
    pub tgid: u32,
    /// Thread.
    pub tid: u32,
    /// File descriptor (-1 for memory).
    pub fd: i32,
    /// 1 read, 2 write, 3 send, 4 recv, 5 munmap.
    pub op: u32,
    /// IPv4 peer of sendto/recvfrom, network byte order (0: unknown).
    pub peer_ip: u32,
    /// Its port, network byte order.
    pub peer_port: u16,
    /// Padding.
    pub pad: u16,
    /// Which incarnation of the fd (the kernel time of its first use): fd numbers are reused after close.
    pub gen: u64,
}

/// `struct agg_val`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AggVal {
    /// Bytes.
    pub bytes: u64,
    /// Calls.
    pub count: u64,
}

/// `struct record`: what the ring buffer carries.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Record {
    /// 1 exec, 2 exit, 3 first use of an fd, 4 close.
    pub kind: u32,
    /// Process.
    pub tgid: u32,
    /// Thread.
    pub tid: u32,
    /// File descriptor, or -1.
    pub fd: i32,
    /// For `FD` and `CLOSE`: the fd's generation; otherwise the kernel's monotonic time, ns.
    pub ts: u64,
}

/// Record kinds.
pub mod kind {
    /// A process exec'd.
    pub const EXEC: u32 = 1;
    /// A process exited.
    pub const EXIT: u32 = 2;
    /// An fd was used for the first time.
    pub const FD: u32 = 3;
    /// A used fd was closed (or replaced by dup2/dup3).
    pub const CLOSE: u32 = 4;
    /// close_range: fds from `fd` to `ts` (the last) were closed.
    pub const CLOSE_RANGE: u32 = 5;
}

/// Operation codes.
pub mod op {
    /// read, pread64, readv (and sendfile's input).
    pub const READ: u32 = 1;
    /// write, pwrite64, writev (and sendfile's output).
    pub const WRITE: u32 = 2;
    /// sendto, sendmsg.
    pub const SEND: u32 = 3;
    /// recvfrom, recvmsg.
    pub const RECV: u32 = 4;
    /// munmap.
    pub const MUNMAP: u32 = 5;
}

/// Indices of the per-CPU counters.
pub mod counter {
    /// Ring-buffer records dropped (buffer full).
    pub const RINGBUF_DROPS: u32 = 0;
    /// Exchanges not aggregated (map full).
    pub const AGG_FULL: u32 = 1;
}

// SAFETY: plain `#[repr(C)]` integers with explicit padding fields: every byte pattern is valid.
unsafe impl aya::Pod for Config {}
// SAFETY: as above.
unsafe impl aya::Pod for AggKey {}
// SAFETY: as above.
unsafe impl aya::Pod for AggVal {}

impl Record {
    /// Decodes a ring-buffer record (`None` if too short).
    pub fn decode(bytes: &[u8]) -> Option<Record> {
        let u32_at = |o: usize| {
            bytes
                .get(o..o + 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_ne_bytes)
        };
        Some(Record {
            kind: u32_at(0)?,
            tgid: u32_at(4)?,
            tid: u32_at(8)?,
            fd: u32_at(12)? as i32,
            ts: bytes
                .get(16..24)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_ne_bytes)?,
        })
    }
}

impl AggKey {
    /// The IPv4 peer as `ip:port`, when the kernel captured one.
    pub fn peer(&self) -> Option<String> {
        (self.peer_ip != 0).then(|| {
            let ip = std::net::Ipv4Addr::from(self.peer_ip.to_ne_bytes());
            format!("{ip}:{}", u16::from_be(self.peer_port))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_c_structs() {
        assert_eq!(std::mem::size_of::<Config>(), 16);
        assert_eq!(std::mem::size_of::<AggKey>(), 32);
        assert_eq!(std::mem::offset_of!(AggKey, gen), 24);
        assert_eq!(std::mem::size_of::<AggVal>(), 16);
        assert_eq!(std::mem::size_of::<Record>(), 24);
        assert_eq!(std::mem::offset_of!(AggKey, peer_ip), 16);
        assert_eq!(std::mem::offset_of!(AggKey, peer_port), 20);
    }

    #[test]
    fn decodes_a_record_as_the_kernel_writes_it() {
        // A REC_FD record for tgid 4242, tid 4250, fd 7, at 123456789 ns (little-endian, as on x86-64).
        let mut b = Vec::new();
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&4242u32.to_le_bytes());
        b.extend_from_slice(&4250u32.to_le_bytes());
        b.extend_from_slice(&7i32.to_le_bytes());
        b.extend_from_slice(&123_456_789u64.to_le_bytes());
        assert_eq!(
            Record::decode(&b),
            Some(Record {
                kind: kind::FD,
                tgid: 4242,
                tid: 4250,
                fd: 7,
                ts: 123_456_789
            })
        );
        assert_eq!(Record::decode(&b[..20]), None);
        // sockaddr_in stores the address and port in network order; the key keeps them so.
        let k = AggKey {
            peer_ip: u32::from_ne_bytes([10, 0, 0, 7]),
            peer_port: 36412u16.to_be(),
            ..AggKey::default()
        };
        assert_eq!(k.peer().as_deref(), Some("10.0.0.7:36412"));
    }
}
