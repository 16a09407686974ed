//! Exchange events of a distributed LTE-like core, shaped like the testbed of DistAppGuard (ACSAC 2021, §5–6):
//! eNB, MME, HSS, SPGW-C and SPGW-U (control and user plane split), and a UE simulator, with replicas on several
//! hosts. Per interval: attach procedures (S1AP, S6a/Diameter with the HSS database, S11/GTPv2, PFCP, GTP-U),
//! user-plane traffic to the internet, paging, heartbeats, logs, state files and memory releases.
//!
//! Attacks of the paper's §6.2:
//! 1. **SGW IP modification** (user-plane hijack): after attach, the eNB tunnels users' traffic to a rogue
//!    gateway outside the monitored application instead of the SPGW-U.
//! 2. **False downlink data notifications**: a malicious SGW-C sends DDNs to the MME with no downlink data from
//!    the user plane behind them; the MME pages UEs for nothing.
//! 3. **Fake PGW-restart notification**: a paging storm as after a genuine SPGW restart, but without the restart's
//!    state-file writes and memory releases.
//!
//! Normal variations that must not alarm: migration (new hosts, pids, containers, IPs), scale-out (more
//! replicas), load swings, and genuine SPGW restarts (with their file and memory activity).

use spanguard_exchange::{ExchangeEvent, Op, Target};
use spanguard_processor::graph::roles::fnv1a;

use super::rng::Rng;

/// What happens in a stretch of intervals.
/// Also the `--scenario` values of `spanguard generate lte` (kebab-case: sgw-hijack, false-ddn, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Steady normal operation with ordinary load variation.
    Normal,
    /// Every service moves to other hosts (new pids, containers, IPs) at the start.
    Migration,
    /// eNB and SPGW-U scale from 2 to 4 replicas.
    ScaleOut,
    /// Load swings between a third and three times the usual attach rate.
    LoadSwing,
    /// A genuine SPGW restart in every other interval (files, memory, paging storm).
    GenuineRestart,
    /// Attack 1: users' GTP-U traffic hijacked to a rogue gateway.
    SgwHijack,
    /// Attack 2: false downlink data notifications.
    FalseDdn,
    /// Attack 3: fake PGW-restart notification (paging storm without the restart's file and memory activity).
    FakePgwRestart,
}

impl Scenario {
    /// Whether the scenario is an attack.
    pub fn is_attack(self) -> bool {
        matches!(
            self,
            Scenario::SgwHijack | Scenario::FalseDdn | Scenario::FakePgwRestart
        )
    }

    /// All scenarios, normal variations first.
    pub const ALL: [Scenario; 8] = [
        Scenario::Normal,
        Scenario::Migration,
        Scenario::ScaleOut,
        Scenario::LoadSwing,
        Scenario::GenuineRestart,
        Scenario::SgwHijack,
        Scenario::FalseDdn,
        Scenario::FakePgwRestart,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Normal => "normal",
            Scenario::Migration => "migration",
            Scenario::ScaleOut => "scale-out",
            Scenario::LoadSwing => "load-swing",
            Scenario::GenuineRestart => "genuine-restart",
            Scenario::SgwHijack => "sgw-hijack",
            Scenario::FalseDdn => "false-ddn",
            Scenario::FakePgwRestart => "fake-pgw-restart",
        }
    }
}

#[derive(Debug, Clone)]
struct Instance {
    service: &'static str,
    host: String,
    container: String,
    pid: u32,
    ip: String,
}

#[derive(Debug, Clone)]
struct Deployment {
    enb: Vec<Instance>,
    mme: Instance,
    hss: Instance,
    spgwc: Instance,
    spgwu: Vec<Instance>,
    ue: Vec<Instance>,
}

fn exe_hash(service: &str) -> String {
    format!("{:016x}", fnv1a(service.as_bytes()))
}

impl Deployment {
    /// `generation` moves every instance to other hosts/pids/IPs; `enbs`/`upfs` are replica counts.
    fn new(generation: u32, enbs: usize, upfs: usize) -> Self {
        let inst = |service: &'static str, n: u32| Instance {
            service,
            host: format!("node-{}", (n + generation * 7) % 13),
            container: format!(
                "{:012x}",
                u64::from(n) * 0x9e37_79b9 + u64::from(generation) * 0x1234_5678 + 0xabc
            ),
            pid: 1000 + n * 37 + generation * 4099,
            ip: format!("10.{}.{}.{}", generation % 200, n / 250, n % 250 + 2),
        };
        Deployment {
            enb: (0..enbs as u32).map(|i| inst("enb", 10 + i)).collect(),
            mme: inst("mme", 1),
            hss: inst("hss", 2),
            spgwc: inst("spgwc", 3),
            spgwu: (0..upfs as u32).map(|i| inst("spgwu", 20 + i)).collect(),
            ue: (0..enbs as u32).map(|i| inst("ue-sim", 40 + i)).collect(),
        }
    }
}

struct Emitter<'a> {
    out: &'a mut Vec<ExchangeEvent>,
    rng: &'a mut Rng,
    t0: u64,
    span: u64,
}

impl Emitter<'_> {
    fn ts(&mut self) -> u64 {
        self.t0 + self.rng.below(self.span)
    }

    fn event(&mut self, i: &Instance, thread: &str, op: Op, bytes: u64, count: u64, target: Target) {
        let ts = self.ts();
        self.out.push(ExchangeEvent {
            ts,
            host: i.host.clone(),
            container: Some(i.container.clone()),
            service: None,
            pid: i.pid,
            tid: i.pid + 1 + (fnv1a(thread.as_bytes()) % 50) as u32,
            exe: format!("/opt/oai/bin/{}", i.service),
            exe_hash: Some(exe_hash(i.service)),
            comm: thread.to_owned(),
            op,
            bytes,
            count,
            target,
            source: None,
        });
    }

    /// `a` sends `bytes` (in `count` messages) to `b`, which receives them.
    #[allow(clippy::too_many_arguments)]
    fn message(
        &mut self,
        proto: &str,
        a: &Instance,
        a_thread: &str,
        a_port: u16,
        b: &Instance,
        b_thread: &str,
        b_port: u16,
        bytes: u64,
        count: u64,
    ) {
        let (la, lb) = (format!("{}:{a_port}", a.ip), format!("{}:{b_port}", b.ip));
        self.event(
            a,
            a_thread,
            Op::Send,
            bytes,
            count,
            Target::Socket {
                proto: proto.into(),
                local: la.clone(),
                remote: lb.clone(),
            },
        );
        self.event(
            b,
            b_thread,
            Op::Recv,
            bytes,
            count,
            Target::Socket {
                proto: proto.into(),
                local: lb,
                remote: la,
            },
        );
    }

    /// `a` exchanges with an endpoint outside the application (no event on the other side).
    #[allow(clippy::too_many_arguments)]
    fn outside(
        &mut self,
        proto: &str,
        a: &Instance,
        thread: &str,
        a_port: u16,
        remote: &str,
        bytes: u64,
        count: u64,
        inbound: bool,
    ) {
        let op = if inbound { Op::Recv } else { Op::Send };
        self.event(
            a,
            thread,
            op,
            bytes,
            count,
            Target::Socket {
                proto: proto.into(),
                local: format!("{}:{a_port}", a.ip),
                remote: remote.into(),
            },
        );
    }

    fn file(&mut self, i: &Instance, thread: &str, op: Op, path: &str, bytes: u64, count: u64) {
        self.event(i, thread, op, bytes, count, Target::File { path: path.into() });
    }
}

/// Generates `intervals` intervals of `scenario` starting at `t0` (ns), one interval every `interval_ns`.
pub fn events(scenario: Scenario, t0: u64, intervals: usize, interval_ns: u64, seed: u64) -> Vec<ExchangeEvent> {
    let mut rng = Rng::new(seed ^ 0x17e);
    let mut out = Vec::new();
    let deploy = match scenario {
        Scenario::Migration => Deployment::new(1 + (seed % 5) as u32, 2, 2),
        Scenario::ScaleOut => Deployment::new(0, 4, 4),
        _ => Deployment::new(0, 2, 2),
    };
    for k in 0..intervals {
        let start = t0 + k as u64 * interval_ns;
        let load = match scenario {
            Scenario::LoadSwing => [0.35, 1.0, 3.0, 1.8, 0.6][k % 5],
            _ => 0.8 + 0.4 * rng.unit(),
        };
        let mut em = Emitter {
            out: &mut out,
            rng: &mut rng,
            t0: start,
            span: interval_ns,
        };
        interval(&mut em, &deploy, scenario, load, k);
    }
    out.sort_by_key(|e| e.ts);
    out
}

fn interval(em: &mut Emitter, d: &Deployment, scenario: Scenario, load: f64, k: usize) {
    // Attach procedures: ~12 per interval at normal load, spread over the eNBs.
    let attaches = ((12.0 * load) * (0.85 + 0.3 * em.rng.unit())).round().max(1.0) as u64;
    let hijacked = scenario == Scenario::SgwHijack;
    for a in 0..attaches {
        let e = &d.enb[(a as usize) % d.enb.len()];
        let ue = &d.ue[(a as usize) % d.ue.len()];
        let u = &d.spgwu[(a as usize) % d.spgwu.len()];
        em.message("udp", ue, "ue-rrc", 4000, e, "enb-rrc", 4000, 180, 2);
        em.message("sctp", e, "enb-s1ap", 36412, &d.mme, "mme-s1ap", 36412, 160, 1);
        em.message("tcp", &d.mme, "mme-s6a", 45110, &d.hss, "hss-diameter", 3868, 220, 1);
        em.file(&d.hss, "hss-db", Op::Read, "/var/lib/hss/subscribers.db", 4096, 1);
        em.message("tcp", &d.hss, "hss-diameter", 3868, &d.mme, "mme-s6a", 45110, 310, 1);
        em.message("sctp", &d.mme, "mme-s1ap", 36412, e, "enb-s1ap", 36412, 120, 1);
        em.message("udp", e, "enb-rrc", 4000, ue, "ue-rrc", 4000, 140, 2);
        em.message("udp", &d.mme, "mme-s11", 2123, &d.spgwc, "spgwc-s11", 2123, 260, 1);
        em.message("udp", &d.spgwc, "spgwc-pfcp", 8805, u, "spgwu-pfcp", 8805, 210, 1);
        em.message("udp", u, "spgwu-pfcp", 8805, &d.spgwc, "spgwc-pfcp", 8805, 110, 1);
        em.message("udp", &d.spgwc, "spgwc-s11", 2123, &d.mme, "mme-s11", 2123, 230, 1);
        em.message("sctp", &d.mme, "mme-s1ap", 36412, e, "enb-s1ap", 36412, 330, 1);
        em.message("sctp", e, "enb-s1ap", 36412, &d.mme, "mme-s1ap", 36412, 110, 1);
        em.file(
            &d.mme,
            "mme-ctx",
            Op::Write,
            &format!("/var/lib/mme/ue/{}.ctx", 208_930_000_000_000u64 + a),
            512,
            1,
        );
        // The tunnel's first packets: eNB ↔ gateway. The hijack sends them elsewhere.
        if hijacked {
            em.outside("udp", e, "enb-gtpu", 2152, "129.192.82.136:2152", 96, 3, false);
        } else {
            em.message("udp", e, "enb-gtpu", 2152, u, "spgwu-gtpu", 2152, 96, 3);
        }
    }
    // User plane: active users' traffic through eNB ↔ SPGW-U ↔ internet, pre-aggregated per thread.
    let users = (40.0 * load) as u64 + em.rng.below(6);
    for (i, e) in d.enb.iter().enumerate() {
        let ue = &d.ue[i % d.ue.len()];
        let share = users / d.enb.len() as u64 + 1;
        let up = share * (9_000 + em.rng.below(2_000));
        let down = share * (40_000 + em.rng.below(8_000));
        em.message("udp", ue, "ue-data", 5000, e, "enb-data", 5000, up, share * 8);
        em.message("udp", e, "enb-data", 5000, ue, "ue-data", 5000, down, share * 30);
        if hijacked {
            em.outside("udp", e, "enb-gtpu", 2152, "129.192.82.136:2152", up, share * 8, false);
            em.outside(
                "udp",
                e,
                "enb-gtpu",
                2152,
                "129.192.82.136:2152",
                down,
                share * 30,
                true,
            );
        } else {
            let u = &d.spgwu[i % d.spgwu.len()];
            em.message("udp", e, "enb-gtpu", 2152, u, "spgwu-gtpu", 2152, up, share * 8);
            em.message("udp", u, "spgwu-gtpu", 2152, e, "enb-gtpu", 2152, down, share * 30);
        }
    }
    for u in &d.spgwu {
        let flows = if hijacked {
            users / 20 + 1
        } else {
            users / d.spgwu.len() as u64 + 1
        };
        em.outside(
            "udp",
            u,
            "spgwu-sgi",
            41000,
            "93.184.216.34:443",
            flows * 9_500,
            flows * 8,
            false,
        );
        em.outside(
            "udp",
            u,
            "spgwu-sgi",
            41000,
            "93.184.216.34:443",
            flows * 44_000,
            flows * 30,
            true,
        );
    }
    // Idle users receiving data: SPGW-U reports to SPGW-C, which sends a DDN to the MME, which pages.
    let ddn = 2 + em.rng.below(3);
    for n in 0..ddn {
        let u = &d.spgwu[n as usize % d.spgwu.len()];
        em.outside("udp", u, "spgwu-gtpu", 2152, "93.184.216.34:443", 1_400, 2, true);
        em.message("udp", u, "spgwu-pfcp", 8805, &d.spgwc, "spgwc-pfcp", 8805, 120, 1);
        em.message("udp", &d.spgwc, "spgwc-s11", 2123, &d.mme, "mme-s11", 2123, 90, 1);
        let e = &d.enb[n as usize % d.enb.len()];
        em.message("sctp", &d.mme, "mme-paging", 36412, e, "enb-s1ap", 36412, 80, 1);
        em.message(
            "udp",
            e,
            "enb-paging",
            4001,
            &d.ue[n as usize % d.ue.len()],
            "ue-rrc",
            4001,
            60,
            1,
        );
    }
    if scenario == Scenario::FalseDdn {
        // DDNs with no downlink data behind them: the SGW-C → MME edge and paging swell, alone.
        let fake = 25 + em.rng.below(10);
        em.message(
            "udp",
            &d.spgwc,
            "spgwc-s11",
            2123,
            &d.mme,
            "mme-s11",
            2123,
            90 * fake,
            fake,
        );
        for (i, e) in d.enb.iter().enumerate() {
            em.message(
                "sctp",
                &d.mme,
                "mme-paging",
                36412,
                e,
                "enb-s1ap",
                36412,
                80 * fake / 2,
                fake / 2,
            );
            em.message(
                "udp",
                e,
                "enb-paging",
                4001,
                &d.ue[i % d.ue.len()],
                "ue-rrc",
                4001,
                60 * fake / 2,
                fake / 2,
            );
        }
    }
    // SPGW restart: the genuine one writes its state files and releases memory; then the MME pages everyone.
    let genuine_restart = scenario == Scenario::GenuineRestart && k % 2 == 0;
    if genuine_restart {
        em.file(
            &d.spgwc,
            "spgwc-main",
            Op::Write,
            "/var/lib/spgwc/restart-counter",
            8,
            1,
        );
        em.file(
            &d.spgwc,
            "spgwc-main",
            Op::Write,
            "/var/lib/spgwc/sessions.db",
            262_144,
            16,
        );
        em.event(&d.spgwc, "spgwc-main", Op::Munmap, 64 << 20, 4096, Target::Memory);
    }
    if genuine_restart || scenario == Scenario::FakePgwRestart {
        let storm = 300 + em.rng.below(60);
        em.message("udp", &d.spgwc, "spgwc-s11", 2123, &d.mme, "mme-s11", 2123, 120, 1);
        for (i, e) in d.enb.iter().enumerate() {
            em.message(
                "sctp",
                &d.mme,
                "mme-paging",
                36412,
                e,
                "enb-s1ap",
                36412,
                80 * storm,
                storm,
            );
            em.message(
                "udp",
                e,
                "enb-paging",
                4001,
                &d.ue[i % d.ue.len()],
                "ue-rrc",
                4001,
                60 * storm,
                storm,
            );
        }
    }
    // Heartbeats (PFCP, GTP echo, SCTP), every interval.
    for u in &d.spgwu {
        em.message("udp", &d.spgwc, "spgwc-pfcp", 8805, u, "spgwu-pfcp", 8805, 16, 1);
        em.message("udp", u, "spgwu-pfcp", 8805, &d.spgwc, "spgwc-pfcp", 8805, 16, 1);
    }
    em.message("udp", &d.mme, "mme-s11", 2123, &d.spgwc, "spgwc-s11", 2123, 12, 1);
    for e in &d.enb {
        em.message("sctp", e, "enb-s1ap", 36412, &d.mme, "mme-s1ap", 36412, 48, 1);
    }
    // Logs, proportional to activity, and the occasional memory release.
    for (inst, thread, per) in [
        (&d.mme, "mme-log", 180u64),
        (&d.hss, "hss-log", 90),
        (&d.spgwc, "spgwc-log", 120),
    ] {
        em.file(
            inst,
            thread,
            Op::Write,
            &format!("/var/log/oai/{}.log", inst.service),
            per * attaches + 200,
            attaches + 1,
        );
    }
    for e in &d.enb {
        em.file(
            e,
            "enb-log",
            Op::Write,
            "/var/log/oai/enb.log",
            100 * attaches / d.enb.len() as u64 + 150,
            2,
        );
    }
    em.event(
        &d.mme,
        "mme-worker-1",
        Op::Munmap,
        65_536 * (1 + attaches / 4),
        1 + attaches / 4,
        Target::Memory,
    );
}
