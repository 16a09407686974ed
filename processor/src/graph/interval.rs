//! The microservice data-exchange graph of one time interval (DistAppGuard §3): nodes are roles
//! ([`super::roles`]), edges point the way data moves (writer → reader), weighted by bytes (and op counts).
//!
//! Socket and pipe peers are resolved when the interval closes, against ownership learned from every event seen
//! so far, so the order of events within an interval does not matter. Each edge belongs to the microservice
//! (process role) whose event produced it: the group the microservice-aware autoencoder encodes it with.

use std::hash::{Hash, Hasher};

use hashbrown::{Equivalent, HashMap};
use spanguard_exchange::{ExchangeEvent, Target};

use super::roles::{
    file_node, is_ephemeral, normalize_thread, process_role, unresolved_peer, MEMORY_PREFIX, PIPE_PEER,
};

/// Index of a node (role) name.
pub type NodeId = u32;

/// One aggregated edge of an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeStat {
    /// Where data came from.
    pub src: NodeId,
    /// Where it went.
    pub dst: NodeId,
    /// The microservice (process role) the edge belongs to.
    pub group: NodeId,
    /// Bytes moved in the interval.
    pub bytes: u64,
    /// Operations in the interval.
    pub count: u64,
}

/// The graph of one closed interval.
#[derive(Debug, Clone, Default)]
pub struct IntervalGraph {
    /// Start, ns since the epoch (a multiple of the interval length).
    pub start_ns: u64,
    /// End (exclusive).
    pub end_ns: u64,
    /// Its edges, sorted by (src, dst).
    pub edges: Vec<EdgeStat>,
    /// Events it aggregates.
    pub events: u64,
}

/// Interns role names.
#[derive(Default, Clone)]
pub struct Nodes {
    ids: HashMap<Box<str>, NodeId>,
    names: Vec<Box<str>>,
}

impl Nodes {
    /// The id of `name`, interning it.
    pub fn id(&mut self, name: &str) -> NodeId {
        if let Some(id) = self.ids.get(name) {
            return *id;
        }
        let id = self.names.len() as NodeId;
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        id
    }

    /// The id of `name` if known.
    pub fn get(&self, name: &str) -> Option<NodeId> {
        self.ids.get(name).copied()
    }

    /// The name of a node.
    pub fn name(&self, id: NodeId) -> &str {
        self.names.get(id as usize).map_or("?", |n| n)
    }
}

/// `(u32, String)` keys looked up by `(u32, &str)` without allocating.
#[derive(PartialEq, Eq, Clone)]
struct IdStr(u32, Box<str>);

impl Hash for IdStr {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (self.0, &*self.1).hash(h);
    }
}

#[derive(Hash)]
struct IdStrRef<'a>((u32, &'a str));

impl Equivalent<IdStr> for IdStrRef<'_> {
    fn equivalent(&self, k: &IdStr) -> bool {
        k.0 == self.0 .0 && *k.1 == *self.0 .1
    }
}

fn id_str_lookup(map: &mut HashMap<IdStr, u32>, key: u32, s: &str, make: impl FnOnce() -> u32) -> u32 {
    if let Some(v) = map.get(&IdStrRef((key, s))) {
        return *v;
    }
    let v = make();
    map.insert(IdStr(key, s.into()), v);
    v
}

/// Most learned endpoints or cached paths kept before a cache starts over (bounds memory under churn).
const CACHE_LIMIT: usize = 200_000;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct PendingKey {
    thread: NodeId,
    group: NodeId,
    proto: u32,
    /// The remote endpoint (sockets) or the pipe id.
    peer: u32,
    /// The local endpoint (sockets).
    local: u32,
    outbound: bool,
}

/// Builds interval graphs from a stream of events.
#[derive(Clone)]
pub struct GraphBuilder {
    interval_ns: u64,
    /// Role names.
    pub nodes: Nodes,
    services: HashMap<Box<str>, NodeId>,
    exes: HashMap<Box<str>, NodeId>,
    threads: HashMap<IdStr, NodeId>,
    files: HashMap<Box<str>, NodeId>,
    memory: HashMap<NodeId, NodeId>,
    /// Interned `proto`, endpoints and pipe ids, for the learned ownership tables.
    strings: HashMap<Box<str>, u32>,
    string_names: Vec<Box<str>>,
    /// (proto, local endpoint) → owning process role.
    sockets: HashMap<(u32, u32), NodeId>,
    /// (proto, local endpoint, remote endpoint) → owning process role: one connection's end, which an ephemeral
    /// port reused by another process a moment later does not overwrite.
    connections: HashMap<(u32, u32, u32), NodeId>,
    /// (pipe id, outbound) → the process role that wrote (true) or read (false) it.
    pipes: HashMap<(u32, bool), NodeId>,
    current: Option<u64>,
    direct: HashMap<(NodeId, NodeId, NodeId), (u64, u64)>,
    pending_sockets: HashMap<PendingKey, (u64, u64)>,
    pending_pipes: HashMap<PendingKey, (u64, u64)>,
    events: u64,
    /// Events older than the open interval, folded into it.
    pub late_events: u64,
}

impl GraphBuilder {
    /// Intervals of `interval_ns` nanoseconds, aligned to the epoch.
    pub fn new(interval_ns: u64) -> Self {
        Self {
            interval_ns: interval_ns.max(1),
            nodes: Nodes::default(),
            services: HashMap::new(),
            exes: HashMap::new(),
            threads: HashMap::new(),
            files: HashMap::new(),
            memory: HashMap::new(),
            strings: HashMap::new(),
            string_names: Vec::new(),
            sockets: HashMap::new(),
            connections: HashMap::new(),
            pipes: HashMap::new(),
            current: None,
            direct: HashMap::new(),
            pending_sockets: HashMap::new(),
            pending_pipes: HashMap::new(),
            events: 0,
            late_events: 0,
        }
    }

    /// Interval length, ns.
    pub fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    fn string(&mut self, s: &str) -> u32 {
        if let Some(id) = self.strings.get(s) {
            return *id;
        }
        if self.string_names.len() >= CACHE_LIMIT {
            // Endpoint churn (ephemeral ports): start over rather than grow; ownership is re-learned.
            self.strings.clear();
            self.string_names.clear();
            self.sockets.clear();
            self.connections.clear();
            self.pipes.clear();
        }
        let id = self.string_names.len() as u32;
        self.string_names.push(s.into());
        self.strings.insert(s.into(), id);
        id
    }

    fn process(&mut self, e: &ExchangeEvent) -> NodeId {
        if let Some(s) = e.service.as_deref().filter(|s| !s.is_empty()) {
            if let Some(id) = self.services.get(s) {
                return *id;
            }
            let id = self.nodes.id(s);
            self.services.insert(s.into(), id);
            return id;
        }
        let key = e.exe_hash.as_deref().filter(|h| !h.is_empty()).unwrap_or(&e.exe);
        if let Some(id) = self.exes.get(key) {
            return *id;
        }
        let id = self.nodes.id(&process_role(None, e.exe_hash.as_deref(), &e.exe));
        self.exes.insert(key.into(), id);
        id
    }

    /// Adds an event; calls `closed` with every interval it closes (in order, empty ones included).
    pub fn push(&mut self, e: &ExchangeEvent, closed: &mut impl FnMut(IntervalGraph)) {
        let idx = e.ts / self.interval_ns;
        match self.current {
            None => self.current = Some(idx),
            Some(cur) if idx > cur => {
                self.close(closed);
                // Quiet intervals in between are intervals too (everything stopped is news), up to a bound.
                let gap = (idx - cur - 1).min(1000);
                for k in 0..gap {
                    let start = (idx - gap + k) * self.interval_ns;
                    closed(IntervalGraph {
                        start_ns: start,
                        end_ns: start + self.interval_ns,
                        ..IntervalGraph::default()
                    });
                }
                self.current = Some(idx);
            }
            Some(cur) if idx < cur => self.late_events += 1,
            Some(_) => {}
        }
        self.events += 1;
        let group = self.process(e);
        let thread = {
            let nodes = &mut self.nodes;
            id_str_lookup(&mut self.threads, group, &e.comm, || {
                let name = format!("{}/{}", nodes.name(group), normalize_thread(&e.comm));
                nodes.id(&name)
            })
        };
        let outbound = e.op.outbound();
        let w = (e.bytes, e.count);
        match &e.target {
            Target::File { path } => {
                let file = match self.files.get(path.as_str()) {
                    Some(id) => *id,
                    None => {
                        if self.files.len() >= CACHE_LIMIT {
                            self.files.clear();
                        }
                        let id = self.nodes.id(&file_node(path));
                        self.files.insert(path.as_str().into(), id);
                        id
                    }
                };
                let (s, d) = if outbound { (thread, file) } else { (file, thread) };
                add(&mut self.direct, (s, d, group), w);
            }
            Target::Memory => {
                let mem = match self.memory.get(&group) {
                    Some(id) => *id,
                    None => {
                        let id = self.nodes.id(&format!("{MEMORY_PREFIX}{}", self.nodes.name(group)));
                        self.memory.insert(group, id);
                        id
                    }
                };
                let (s, d) = if outbound { (thread, mem) } else { (mem, thread) };
                add(&mut self.direct, (s, d, group), w);
            }
            Target::Socket { proto, local, remote } => {
                let p = self.string(proto);
                let l = self.string(local);
                let r = self.string(remote);
                // An unnamed endpoint (an unbound unix socket) names no one: learning its owner would hand every
                // other unnamed socket's traffic to whoever touched one last.
                if !local.is_empty() {
                    self.sockets.insert((p, l), group);
                    if !remote.is_empty() {
                        self.connections.insert((p, l, r), group);
                    }
                }
                let key = PendingKey {
                    thread,
                    group,
                    proto: p,
                    peer: r,
                    local: l,
                    outbound,
                };
                add(&mut self.pending_sockets, key, w);
            }
            Target::Pipe { id } => {
                let pid = self.string(id);
                self.pipes.insert((pid, outbound), group);
                let key = PendingKey {
                    thread,
                    group,
                    proto: 0,
                    peer: pid,
                    local: 0,
                    outbound,
                };
                add(&mut self.pending_pipes, key, w);
            }
        }
    }

    /// Closes the open interval, if any.
    pub fn finish(&mut self, closed: &mut impl FnMut(IntervalGraph)) {
        self.close(closed);
        self.current = None;
    }

    fn close(&mut self, closed: &mut impl FnMut(IntervalGraph)) {
        let Some(idx) = self.current else { return };
        let mut direct = std::mem::take(&mut self.direct);
        // Resolved in key order, not the hash map's (seeded per process): a peer resolved here may get a new node
        // id, and ids order the edges, so the same events must give the same graph — and the same model — in
        // every run.
        let mut sockets: Vec<_> = self.pending_sockets.drain().collect();
        sockets.sort_unstable_by_key(|(k, _)| *k);
        let mut pipes: Vec<_> = self.pending_pipes.drain().collect();
        pipes.sort_unstable_by_key(|(k, _)| *k);
        for (k, w) in sockets {
            // The other end of this very connection, else whoever owns the remote endpoint when it is a service's
            // address (a peer that sent nothing on this connection in the probe's view, a UDP server answering
            // from its bound port). An ephemeral port belongs to one connection: the process that used it last may
            // have nothing to do with this one (an unwatched client reusing a port a watched one had).
            let remote = self.string_names.get(k.peer as usize).map_or("?", |s| s);
            let owner = self.connections.get(&(k.proto, k.peer, k.local)).or_else(|| {
                if is_ephemeral(remote) {
                    None
                } else {
                    self.sockets.get(&(k.proto, k.peer))
                }
            });
            let peer = match owner {
                Some(owner) => *owner,
                None => {
                    let proto = self.string_names.get(k.proto as usize).map_or("?", |s| s);
                    let name = unresolved_peer(proto, remote);
                    self.nodes.id(&name)
                }
            };
            let (s, d) = if k.outbound { (k.thread, peer) } else { (peer, k.thread) };
            add(&mut direct, (s, d, k.group), w);
        }
        for (k, w) in pipes {
            // A writer's peer is whoever reads the pipe, a reader's whoever writes it.
            let peer = match self.pipes.get(&(k.peer, !k.outbound)) {
                Some(owner) => *owner,
                None => self.nodes.id(PIPE_PEER),
            };
            let (s, d) = if k.outbound { (k.thread, peer) } else { (peer, k.thread) };
            add(&mut direct, (s, d, k.group), w);
        }
        let mut edges: Vec<EdgeStat> = direct
            .drain()
            .map(|((src, dst, group), (bytes, count))| EdgeStat {
                src,
                dst,
                group,
                bytes,
                count,
            })
            .collect();
        edges.sort_unstable_by_key(|e| (e.src, e.dst, e.group));
        self.direct = direct;
        closed(IntervalGraph {
            start_ns: idx * self.interval_ns,
            end_ns: (idx + 1) * self.interval_ns,
            edges,
            events: std::mem::take(&mut self.events),
        });
    }

    /// `src->dst` for people and for the model's vocabulary.
    pub fn edge_name(&self, src: NodeId, dst: NodeId) -> String {
        format!("{}->{}", self.nodes.name(src), self.nodes.name(dst))
    }
}

fn add<K: Eq + std::hash::Hash>(map: &mut HashMap<K, (u64, u64)>, k: K, (bytes, count): (u64, u64)) {
    let e = map.entry(k).or_insert((0, 0));
    e.0 = e.0.saturating_add(bytes);
    e.1 = e.1.saturating_add(count);
}

/// Builds every interval of `events` (in their order).
pub fn build_intervals(events: &[ExchangeEvent], interval_ns: u64) -> (GraphBuilder, Vec<IntervalGraph>) {
    let mut b = GraphBuilder::new(interval_ns);
    let mut out = Vec::new();
    for e in events {
        b.push(e, &mut |g| out.push(g));
    }
    b.finish(&mut |g| out.push(g));
    (b, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spanguard_exchange::Op;

    const S: u64 = 1_000_000_000;

    #[allow(clippy::too_many_arguments)]
    fn ev(ts: u64, host: &str, svc: &str, pid: u32, comm: &str, op: Op, bytes: u64, target: Target) -> ExchangeEvent {
        ExchangeEvent {
            ts,
            host: host.into(),
            container: Some(format!("c{pid}")),
            service: Some(svc.into()),
            pid,
            tid: pid + 1,
            exe: format!("/bin/{svc}"),
            exe_hash: None,
            comm: comm.into(),
            op,
            bytes,
            count: 1,
            target,
            source: None,
        }
    }

    fn sock(local: &str, remote: &str) -> Target {
        Target::Socket {
            proto: "udp".into(),
            local: local.into(),
            remote: remote.into(),
        }
    }

    /// The edges of each interval as sorted (`src->dst`, bytes) names.
    fn named(b: &GraphBuilder, gs: &[IntervalGraph]) -> Vec<Vec<(String, u64)>> {
        gs.iter()
            .map(|g| {
                let mut v: Vec<(String, u64)> = g.edges.iter().map(|e| (b.edge_name(e.src, e.dst), e.bytes)).collect();
                v.sort();
                v
            })
            .collect()
    }

    /// One deployment: eNB on host a sends to the MME, the MME answers and logs.
    fn deployment(hosts: [&str; 2], ips: [&str; 2], pids: [u32; 2], replicas: u32) -> Vec<ExchangeEvent> {
        let mut v = Vec::new();
        for r in 0..replicas {
            let enb_ip = format!("{}{r}", ips[0]);
            let mme_ep = format!("{}:36412", ips[1]);
            let enb_ep = format!("{enb_ip}:36412");
            v.push(ev(
                S + 10,
                hosts[0],
                "enb",
                pids[0] + r,
                "enb-s1ap",
                Op::Send,
                100,
                sock(&enb_ep, &mme_ep),
            ));
            v.push(ev(
                S + 20,
                hosts[1],
                "mme",
                pids[1],
                "mme-worker-1",
                Op::Recv,
                100,
                sock(&mme_ep, &enb_ep),
            ));
            v.push(ev(
                S + 30,
                hosts[1],
                "mme",
                pids[1],
                "mme-worker-2",
                Op::Send,
                40,
                sock(&mme_ep, &enb_ep),
            ));
            v.push(ev(
                S + 40,
                hosts[1],
                "mme",
                pids[1],
                "mme-log",
                Op::Write,
                60,
                Target::File {
                    path: format!("/var/log/mme/{}/mme.log", pids[1]),
                },
            ));
        }
        v
    }

    #[test]
    fn the_same_events_give_the_same_graph_in_every_builder() {
        // Forty peers no watched process owns, in one interval: each gets a node when the interval closes. The
        // edges' order follows node ids, so it must not follow the order a (per-map seeded) hash map drains in.
        let v: Vec<ExchangeEvent> = (0..40u16)
            .map(|i| {
                ev(
                    S + u64::from(i),
                    "h",
                    "frontend",
                    2,
                    "gunicorn",
                    Op::Send,
                    10 + u64::from(i),
                    sock("10.0.0.1:8080", &format!("10.9.{i}.1:{}", 1000 + i)),
                )
            })
            .collect();
        let in_order = |gs: &[IntervalGraph], b: &GraphBuilder| -> Vec<(String, u64)> {
            gs.iter()
                .flat_map(|g| g.edges.iter().map(|e| (b.edge_name(e.src, e.dst), e.bytes)))
                .collect()
        };
        let (b0, g0) = build_intervals(&v, S);
        let first = in_order(&g0, &b0);
        assert_eq!(first.len(), 40, "{first:?}");
        for _ in 0..8 {
            let (b, g) = build_intervals(&v, S);
            assert_eq!(in_order(&g, &b), first);
        }
    }

    #[test]
    fn a_reused_ephemeral_port_keeps_each_connection_with_its_owner() {
        // nginx talks to the frontend from port 40000; a moment later, in the same interval, catalogue reuses
        // port 40000 for its own connection to the database.
        let v = vec![
            ev(
                S,
                "h",
                "nginx",
                1,
                "nginx",
                Op::Send,
                100,
                sock("127.0.0.1:40000", "127.0.0.1:8081"),
            ),
            ev(
                S + 1,
                "h",
                "frontend",
                2,
                "gunicorn",
                Op::Recv,
                100,
                sock("127.0.0.1:8081", "127.0.0.1:40000"),
            ),
            ev(
                S + 2,
                "h",
                "catalogue",
                3,
                "gunicorn",
                Op::Send,
                70,
                sock("127.0.0.1:40000", "127.0.0.1:5432"),
            ),
            ev(
                S + 3,
                "h",
                "postgres",
                4,
                "postgres",
                Op::Recv,
                70,
                sock("127.0.0.1:5432", "127.0.0.1:40000"),
            ),
            ev(S + 4, "h", "postgres", 4, "postgres", Op::Send, 9, sock("", "")),
            // An unwatched client reuses port 40000 to reach nginx: no watched process owns that connection.
            ev(
                S + 5,
                "h",
                "nginx",
                1,
                "nginx",
                Op::Recv,
                33,
                sock("127.0.0.1:18080", "127.0.0.1:40000"),
            ),
        ];
        let (b, g) = build_intervals(&v, S);
        let e = &named(&b, &g)[0];
        assert!(e.contains(&("nginx->frontend/gunicorn".into(), 100)), "{e:?}");
        assert!(e.contains(&("catalogue->postgres/postgres".into(), 70)), "{e:?}");
        assert!(
            !e.iter().any(|(n, _)| n == "catalogue->frontend/gunicorn"),
            "the reused port is not the frontend's peer: {e:?}"
        );
        assert!(
            e.contains(&("postgres/postgres->net:udp:?".into(), 9)),
            "an unnamed socket names no one: {e:?}"
        );
        assert!(e.contains(&("net:udp:ephemeral->nginx/nginx".into(), 33)), "{e:?}");
    }

    #[test]
    fn migration_and_rescheduling_do_not_change_the_graph() {
        let (b1, g1) = build_intervals(&deployment(["a", "b"], ["10.0.0.", "10.0.1.9"], [100, 200], 1), S);
        let (b2, g2) = build_intervals(
            &deployment(["x", "y"], ["192.168.7.", "172.16.0.3"], [9100, 7200], 1),
            S,
        );
        assert_eq!(named(&b1, &g1), named(&b2, &g2));
        let edges = &named(&b1, &g1)[0];
        assert!(edges.contains(&("enb/enb-s#ap->mme".into(), 100)), "{edges:?}");
        assert!(
            edges.contains(&("enb->mme/mme-worker-#".into(), 100)),
            "recv points peer → thread: {edges:?}"
        );
        assert!(edges.contains(&("mme/mme-log->file:/var/log/mme/#/mme.log".into(), 60)));
    }

    #[test]
    fn scaling_out_changes_weights_not_shape() {
        let (b1, g1) = build_intervals(&deployment(["a", "b"], ["10.0.0.", "10.0.1.9"], [100, 200], 1), S);
        let (b3, g3) = build_intervals(&deployment(["a", "b"], ["10.0.0.", "10.0.1.9"], [100, 200], 3), S);
        let shape =
            |b: &GraphBuilder, g: &[IntervalGraph]| named(b, g)[0].iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        assert_eq!(shape(&b1, &g1), shape(&b3, &g3), "three eNB replicas are one eNB node");
        let enb = |b: &GraphBuilder, g: &[IntervalGraph]| {
            named(b, g)[0].iter().find(|(n, _)| n.starts_with("enb/")).map(|x| x.1)
        };
        assert_eq!(enb(&b3, &g3), Some(300));
        assert_eq!(enb(&b1, &g1), Some(100));
    }

    #[test]
    fn unresolved_peers_pipes_memory_and_empty_intervals() {
        let events = vec![
            ev(
                S,
                "h",
                "spgwu",
                1,
                "gtp-rx",
                Op::Recv,
                1400,
                sock("10.0.0.5:2152", "10.9.9.9:2152"),
            ),
            ev(
                S + 1,
                "h",
                "spgwu",
                1,
                "gtp-tx",
                Op::Send,
                1400,
                sock("10.0.0.5:40000", "10.9.9.9:51000"),
            ),
            ev(
                S + 2,
                "h",
                "hss",
                2,
                "db",
                Op::Write,
                8,
                Target::Pipe { id: "77".into() },
            ),
            ev(
                S + 3,
                "h",
                "mme",
                3,
                "main",
                Op::Read,
                8,
                Target::Pipe { id: "77".into() },
            ),
            ev(S + 4, "h", "spgwc", 4, "main", Op::Munmap, 4096, Target::Memory),
            ev(4 * S, "h", "spgwc", 4, "main", Op::Munmap, 10, Target::Memory),
        ];
        let (b, gs) = build_intervals(&events, S);
        assert_eq!(gs.len(), 4, "intervals 1, 2 and 3 (empty) and 4");
        assert!(gs[1].edges.is_empty() && gs[2].edges.is_empty());
        let e = &named(&b, &gs)[0];
        assert!(e.contains(&("net:udp:2152->spgwu/gtp-rx".into(), 1400)), "{e:?}");
        assert!(e.contains(&("spgwu/gtp-tx->net:udp:ephemeral".into(), 1400)), "{e:?}");
        assert!(e.contains(&("hss/db->mme".into(), 8)), "{e:?}");
        assert!(e.contains(&("hss->mme/main".into(), 8)), "{e:?}");
        assert!(e.contains(&("spgwc/main->mem:spgwc".into(), 4096)), "{e:?}");
    }
}
