//! One data exchange, as a probe reports it. JSON form (one object per line):
//!
//! ```json
//! {"ts":1700000000123456789,"host":"node-a","container":"3f2a9c","service":"mme","pid":4242,"tid":4250,
//!  "exe":"/opt/oai/bin/mme","exe_hash":"9f2c…","comm":"mme-paging","op":"send","bytes":148,"count":1,
//!  "target":{"kind":"socket","proto":"udp","local":"10.0.0.3:36412","remote":"10.0.0.7:36412"}}
//! ```
//!
//! `service`, `container` and `exe_hash` are optional; `count` (default 1) lets a probe send pre-aggregated
//! records; unknown fields are ignored.

use serde::{Deserialize, Deserializer, Serialize};

/// What the exchange did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Read from a file or pipe: data flows target → thread.
    Read,
    /// Wrote to a file or pipe: thread → target.
    Write,
    /// Sent on a socket: thread → peer.
    Send,
    /// Received from a socket: peer → thread.
    Recv,
    /// Released memory pages (bytes released): thread → memory.
    Munmap,
}

impl Op {
    /// Whether data flows from the thread to the target.
    pub fn outbound(self) -> bool {
        matches!(self, Op::Write | Op::Send | Op::Munmap)
    }
}

/// What the thread exchanged data with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    /// A file, by path.
    File {
        /// Absolute path.
        path: String,
    },
    /// A socket, by its endpoints (`ip:port`).
    Socket {
        /// `tcp`, `udp`, `unix`, …
        proto: String,
        /// This process's endpoint.
        local: String,
        /// The peer's endpoint.
        remote: String,
    },
    /// A pipe, by an id the probe assigns (its inode).
    Pipe {
        /// Pipe id, a number or a string.
        #[serde(deserialize_with = "string_or_number")]
        id: String,
    },
    /// Anonymous memory.
    Memory,
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        N(u64),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::S(s) => s,
        Raw::N(n) => n.to_string(),
    })
}

fn one() -> u64 {
    1
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

/// One data exchange (or `count` of them, pre-aggregated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeEvent {
    /// When, ns since the epoch.
    pub ts: u64,
    /// Host (node) name.
    #[serde(default)]
    pub host: String,
    /// Container id, when in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Microservice name, when the probe knows it (from its config).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Process id.
    pub pid: u32,
    /// Thread id.
    pub tid: u32,
    /// Executable path.
    #[serde(default)]
    pub exe: String,
    /// Content hash of the executable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exe_hash: Option<String>,
    /// Thread name.
    #[serde(default)]
    pub comm: String,
    /// What it did.
    pub op: Op,
    /// Bytes moved (or released, for munmap).
    pub bytes: u64,
    /// Exchanges aggregated into this record.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub count: u64,
    /// With what.
    pub target: Target,
    /// Which source recorded it (`ebpf`, `procfs`): procfs events are coarser (process-level, per poll).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_contract_example_and_ignores_unknown_fields() {
        let line = r#"{"ts":1700000000123456789,"host":"node-a","container":"3f2a9c","service":"mme","pid":4242,"tid":4250,
            "exe":"/opt/oai/bin/mme","exe_hash":"9f2c","comm":"mme-paging","op":"send","bytes":148,"count":1,
            "target":{"kind":"socket","proto":"udp","local":"10.0.0.3:36412","remote":"10.0.0.7:36412"},"extra":true}"#;
        let e: ExchangeEvent = serde_json::from_str(line).unwrap();
        assert_eq!(e.op, Op::Send);
        assert_eq!(e.service.as_deref(), Some("mme"));
        assert!(matches!(e.target, Target::Socket { ref proto, .. } if proto == "udp"));
        let minimal: ExchangeEvent =
            serde_json::from_str(r#"{"ts":1,"pid":1,"tid":1,"op":"read","bytes":10,"target":{"kind":"pipe","id":77}}"#)
                .unwrap();
        assert_eq!(minimal.count, 1);
        assert_eq!(minimal.target, Target::Pipe { id: "77".into() });
        let back: ExchangeEvent = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }
}
