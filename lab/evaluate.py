"""`scripts/lab train` and `scripts/lab eval`: train both detectors on the lab's normal operation, then run
spanguard live with both models while a schedule plays normal traffic, the normal variations and the attacks, and
say what was caught, by which detector, how fast, and how many false alarms normal operation raised.

Training records traces through spanguard as a pass-through hop (file exporter) and exchange events with
`spanguard probe --cgroup … --service …`, then runs `spanguard train frequency` and `spanguard train graph`.
The scored run is spanguard with both models, the graph detector fed live by its in-process eBPF probe.
"""

import argparse
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import lab
from lab import CG_ROOT, PORTS, RUN, SERVICES, TOOLS, say

INTERVAL_S = 5  # the graph model's interval
WINDOW = 50  # traces per frequency window

ATTACKS = [
    # name, script, run inside (None: from outside, the attacker's machine), what it does
    ("credential-stuffing", "1-credential-stuffing.py", None, "leaked passwords replayed against POST /login"),
    ("sql-injection", "2-sql-injection.py", None, "UNION injection in /search dumps the users table"),
    ("command-injection", "3-command-injection.py", None, "/shipping runs a shell that connects back to a listener"),
    ("exfiltration", "4-exfiltration.py", "auth", "auth's signing key sent to catalogue, a peer auth never talks to"),
    ("lateral-movement", "5-lateral-movement.py", "frontend", "frontend connects straight to PostgreSQL"),
]

# The normal variations: (name, what it does).
VARIATIONS = {
    "restart-auth": lambda: lab.restart("auth"),
    "restart-catalogue": lambda: lab.restart("catalogue"),
    "restart-frontend": lambda: lab.restart("frontend"),
    "replica-start": lambda: lab.replica("start"),
    "replica-stop": lambda: lab.replica("stop"),
    "checkpoint": lab.checkpoint,
    "vacuum": lab.vacuum,
    "rotate": lab.rotate,
}


class Profile:
    """How long things take: --quick (CI, a few minutes) or the full run."""

    def __init__(self, quick, train_minutes=None, normal_minutes=None):
        self.quick = quick
        self.train_s = (train_minutes or (5.0 if quick else 30.0)) * 60
        # Load: requests/s swinging x5 (trough to peak) over `period` seconds, the buyers' share over `mix_period`.
        self.rate_min, self.rate_max = 4.0, 20.0
        self.period = 120.0 if quick else 600.0
        self.mix_period = 200.0 if quick else 900.0
        self.gap = 20.0 if quick else 90.0  # normal operation between scheduled events
        self.warmup = 15.0 if quick else 60.0
        # Full run: this much extra normal operation (with variations) after the attacks.
        self.extra_normal_s = 0.0 if quick else (normal_minutes if normal_minutes is not None else 45.0) * 60


# ---------------------------------------------------------------- running things


class Loadgen:
    def __init__(self, p: Profile, seed):
        log = RUN / "log" / "loadgen.log"
        self.proc = lab.spawn("loadgen", [lab.VENV / "bin/python", lab.LAB / "loadgen.py", "--url",
                                          f"http://127.0.0.1:{PORTS['nginx']}", "--rate-min", p.rate_min,
                                          "--rate-max", p.rate_max, "--period", p.period, "--mix-period", p.mix_period,
                                          "--seed", seed], TOOLS, log=log)

    def stop(self):
        lab.stop("loadgen")


def probe_argv(out, duration=None):
    argv = [lab.spanguard_bin(), "probe", "--out", out, "--interval", "1s"]
    if duration:
        argv += ["--duration", duration]
    for s in SERVICES:
        argv += ["--cgroup", CG_ROOT / s]
    for pattern, service in lab.service_patterns().items():
        argv += ["--service", f"{pattern}={service}"]
    return [str(a) for a in argv]


def ebpf_check():
    """None when the eBPF probe can run here, else why not."""
    lab.cgroup(TOOLS)
    out = RUN / "ebpf-check.jsonl"
    r = subprocess.run(probe_argv(out, "1s"), capture_output=True, text=True, env=lab.spanguard_env(), timeout=60)
    out.unlink(missing_ok=True)
    if r.returncode != 0:
        return (r.stderr or r.stdout).strip().splitlines()[-1] if (r.stderr or r.stdout).strip() else f"exit {r.returncode}"
    return None


def run_attack(name, argv, inside, log):
    """Runs an attack (inside a service's cgroup, or from the tools cgroup = outside); returns its labelled result."""
    group = inside or TOOLS
    cg = lab.cgroup(group) / "cgroup.procs"

    def enter():
        with open(cg, "w") as f:
            f.write(str(os.getpid()))

    start = time.time()
    with open(log, "ab") as lf:
        lf.write(f"\n=== {name} in {group}: {' '.join(map(str, argv))}\n".encode())
        lf.flush()
        r = subprocess.run([str(a) for a in argv], preexec_fn=enter, env=lab.lab_env(), stdout=subprocess.PIPE,
                           stderr=lf, timeout=300, cwd=lab.LAB)
    end = time.time()
    result = {"attack": name, "start": start, "end": end, "ok": r.returncode == 0, "detail": {}}
    for line in r.stdout.decode(errors="replace").splitlines()[::-1]:
        try:
            d = json.loads(line)
            if isinstance(d, dict) and "start" in d:
                result.update(start=float(d["start"]), end=float(d["end"]), ok=bool(d.get("ok", r.returncode == 0)),
                              detail=d.get("detail", {}))
                break
        except ValueError:
            continue
    return result


class Tail(threading.Thread):
    """Follows spanguard's file exporter output while the schedule plays: every window (its time range, scores)
    and every incident, with the wall-clock time it arrived."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.stop_at = Path(path), None
        self.windows = {}  # id -> dict
        self.incidents = []
        self.lock = threading.Lock()

    def run(self):
        while not self.path.exists():
            time.sleep(0.2)
        with open(self.path, "rb") as f:
            buf = b""
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    if self.stop_at is not None and time.time() > self.stop_at:
                        return
                    time.sleep(0.2)
                    continue
                buf += chunk
                *lines, buf = buf.split(b"\n")
                now = time.time()
                for line in lines:
                    if line.strip():
                        self.take(json.loads(line), now)

    def take(self, req, now):
        for rs in req.get("resourceSpans", []):
            svc = attr_value(rs.get("resource", {}).get("attributes", []), "service.name")
            for ss in rs.get("scopeSpans", []):
                for sp in ss.get("spans", []):
                    attrs = {a["key"]: plain(a["value"]) for a in sp.get("attributes", [])}
                    wid = attrs.get("anomaly.window.id")
                    if wid is None:
                        continue
                    start, end = int(sp["startTimeUnixNano"]) / 1e9, int(sp["endTimeUnixNano"]) / 1e9
                    with self.lock:
                        if svc == "spanguard" and sp.get("name") == "anomaly.window":
                            self.incidents.append({"arrived": now, "start": start, "end": end, **attrs})
                            continue
                        w = self.windows.get(wid)
                        if w is None:
                            w = self.windows[wid] = {"id": wid, "start": start, "end": end, "arrived": now,
                                                     "attrs": attrs}
                        w["start"], w["end"] = min(w["start"], start), max(w["end"], end)


def attr_value(attrs, key):
    for a in attrs:
        if a["key"] == key:
            return plain(a["value"])
    return None


def plain(v):
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [plain(x) for x in v["arrayValue"].get("values", [])]
    return None


def score_offline(models, events, out):
    """`spanguard score graph` on the forensic recording: every interval, with its never-seen edges by name."""
    r = subprocess.run([lab.spanguard_bin(), "score", "graph", "--model", str(models / "graph"), "--events",
                        str(events)], capture_output=True, text=True, env=lab.spanguard_env())
    out.write_text(r.stdout)
    ivs = {}
    for line in r.stdout.splitlines():
        try:
            d = json.loads(line)
        except ValueError:
            continue
        ivs[round(d["start"] / 1e9)] = d
    return ivs


def unknown_shown(edges, n=4):
    """Never-seen edges worth reading first: processes and sockets before files."""
    return sorted(edges, key=lambda e: ("file:" in e, e))[:n]


def graph_intervals(log_path, since):
    """The anomalous data-exchange intervals spanguard logged (start, score, threshold, unknown edges, worst)."""
    out = []
    try:
        with open(log_path) as f:
            for line in f:
                if "anomalous data-exchange interval" not in line:
                    continue
                try:
                    d = json.loads(line)["fields"]
                except (ValueError, KeyError):
                    continue
                start = int(d["start"]) / 1e9
                if start >= since:
                    out.append({"start": start, "score": float(d["score"]), "threshold": float(d["threshold"]),
                                "unknown_edges": int(d.get("unknown_edges", 0)), "worst": d.get("worst")})
    except FileNotFoundError:
        pass
    return out


# ---------------------------------------------------------------- training


def train(p: Profile, seed=1):
    """Records normal operation (with every variation) and trains both models into lab/run/model."""
    tdir = RUN / "train"
    tdir.mkdir(parents=True, exist_ok=True)
    traces, events = tdir / "traces.otlp.jsonl", tdir / "events.jsonl"
    for f in (traces, events):
        f.unlink(missing_ok=True)
    lab.stop("spanguard")
    lab.start_spanguard(None, out=traces)
    say(f"training: recording {p.train_s / 60:g} min of normal operation (traces via spanguard, events via "
        f"spanguard probe on {len(SERVICES)} cgroups), variations included")
    probe = lab.spawn("probe", probe_argv(events), TOOLS, env=lab.spanguard_env(), log=RUN / "log" / "probe.log")
    loadgen = Loadgen(p, seed)
    variations = list(VARIATIONS)
    # Every variation at least once, spread over the recording, each starting a few seconds after the last ended.
    t0 = time.time()
    slots = [t0 + p.train_s * (k + 1) / (len(variations) + 1) for k in range(len(variations))]
    # Each variation twice: once is an anecdote the models may fit, twice is a pattern they must generalize.
    slots = [t0 + p.train_s * (k + 1) / (2 * len(variations) + 1) for k in range(2 * len(variations))]
    variations = variations * 2
    for at, name in zip(slots, variations):
        time.sleep(max(0.0, at - time.time()))
        say(f"  variation {name}")
        VARIATIONS[name]()
    time.sleep(max(0.0, t0 + p.train_s - time.time()))
    lab.stop("probe", signal.SIGTERM, 30)
    # Keep the hop recording traces until the guard replaces it: nothing is lost meanwhile.
    models = RUN / "model"
    models.mkdir(exist_ok=True)
    env = lab.spanguard_env()
    sg = lab.spanguard_bin()
    say("training the frequency detector")
    lab.stop("spanguard", signal.SIGTERM, 30)
    loadgen.stop()
    r = subprocess.run([sg, "train", "frequency", "--traces", str(traces), "--window", str(WINDOW), "--out",
                        str(models / "frequency.json")], capture_output=True, text=True, env=env)
    print(indent(r.stdout + r.stderr))
    if r.returncode != 0:
        raise SystemExit("[lab] train frequency failed")
    say(f"training the graph detector (intervals of {INTERVAL_S} s)")
    r = subprocess.run([sg, "train", "graph", "--events", str(events), "--interval", f"{INTERVAL_S}s", "--out",
                        str(models / "graph")], capture_output=True, text=True, env=env)
    print(indent(r.stdout + r.stderr))
    if r.returncode != 0:
        raise SystemExit("[lab] train graph failed")
    return models


def indent(text):
    return "\n".join("    " + l for l in text.strip().splitlines())


# ---------------------------------------------------------------- the scored schedule


def schedule(p: Profile, extra):
    """The scored run: (kind, name) steps, kind ∈ normal (seconds), variation, attack."""
    g = p.gap
    steps = [("warmup", p.warmup), ("normal", g * 1.5),
             ("variation", "restart-auth"), ("normal", g),
             ("attack", ATTACKS[0]), ("normal", g),
             ("variation", "replica-start"), ("normal", g * 0.6),
             ("attack", ATTACKS[1]), ("normal", g),
             ("variation", "replica-stop"), ("normal", g * 0.6),
             ("attack", ATTACKS[2]), ("normal", g),
             ("variation", "checkpoint"), ("variation", "rotate"), ("normal", g),
             ("attack", ATTACKS[3]), ("normal", g),
             ("variation", "vacuum"), ("normal", g * 0.6),
             ("attack", ATTACKS[4]), ("normal", g)]
    for a in extra:
        steps += [("attack", a), ("normal", g)]
    if p.extra_normal_s > 0:
        # The rest of the hour: normal operation with each variation again, in turn.
        names = list(VARIATIONS)
        n = max(1, int(p.extra_normal_s // (g * 2)))
        for k in range(n):
            steps += [("normal", g), ("variation", names[k % len(names)]), ("normal", g)]
    return steps


def run_eval(p: Profile, extra_attacks, keep, strict=False, require_caught=False):
    started_here = not lab.is_up()
    if started_here:
        lab.up(models=None)
    why = ebpf_check()
    if why:
        if os.environ.get("SPANGUARD_REQUIRE_EBPF") == "1":
            if started_here and not keep:
                lab.down()
            raise SystemExit(f"[lab] eBPF is required (SPANGUARD_REQUIRE_EBPF=1) but the probe cannot run: {why}")
        say(f"skipped: the eBPF probe cannot run here ({why})")
        if started_here and not keep:
            lab.down()
        print("LAB skipped: eBPF not permitted")
        return 0
    t_begin = time.time()
    models = train(p)
    edir = RUN / "eval"
    edir.mkdir(exist_ok=True)
    out = edir / "out.otlp.jsonl"
    out.unlink(missing_ok=True)
    sg_log = RUN / "log" / "spanguard.log"
    if sg_log.exists():
        sg_log.rename(RUN / "log" / "spanguard.train.log")
    lab.start_spanguard(models, out=out)
    lab.write_lab_env(out)
    say(f"spanguard guarding with both models (graph: eBPF on the {len(SERVICES)} cgroups); output {out}")
    tail = Tail(out)
    tail.start()
    # Forensics: a second probe records the same cgroups to a file, scored offline afterwards with the same model,
    # to name the never-seen edges behind each verdict (spanguard's incidents list only 5 contributions).
    forensic_events = edir / "events.jsonl"
    forensic_events.unlink(missing_ok=True)
    lab.spawn("probe", probe_argv(forensic_events), TOOLS, env=lab.spanguard_env(), log=RUN / "log" / "probe.log")
    loadgen = Loadgen(p, seed=2)
    attack_log = RUN / "log" / "attacks.log"
    phases = []  # (kind, name, start, end, extra)
    for kind, what in schedule(p, extra_attacks):
        t = time.time()
        if kind in ("normal", "warmup"):
            time.sleep(what)
            phases.append((kind, kind, t, time.time(), None))
        elif kind == "variation":
            say(f"variation {what}")
            VARIATIONS[what]()
            phases.append(("variation", what, t, time.time(), None))
        else:
            name, script, inside, _ = what
            argv = script if isinstance(script, list) else [sys.executable, lab.LAB / "attacks" / script]
            say(f"attack {name} ({'inside ' + inside if inside else 'from outside'})")
            res = run_attack(name, argv, inside, attack_log)
            say(f"  {name}: {'succeeded' if res['ok'] else 'FAILED (see lab/run/log/attacks.log)'} "
                f"({res['end'] - res['start']:.1f} s) {short(res['detail'])}")
            phases.append(("attack", name, res["start"], res["end"], res))
    loadgen.stop()
    # Let the last traces complete (trace wait) and the last windows close (timeout) before draining.
    time.sleep(14)
    lab.stop("probe", signal.SIGTERM, 30)
    lab.stop("spanguard", signal.SIGTERM, 30)
    tail.stop_at = time.time() + 3
    tail.join(timeout=60)
    ivals = graph_intervals(sg_log, t_begin)
    offline = score_offline(models, forensic_events, edir / "intervals.jsonl")
    with tail.lock:
        raw = {"phases": phases, "windows": list(tail.windows.values()), "incidents": tail.incidents, "intervals": ivals}
    (edir / "raw.json").write_text(json.dumps(raw, default=str))
    report = analyse(p, phases, tail, ivals, models, offline)
    (edir / "report.json").write_text(json.dumps(report, indent=1, default=str))
    print_report(report)
    if started_here and not keep:
        lab.down()
    else:
        lab.start_spanguard(models)  # leave the lab guarded
        lab.write_lab_env(RUN / "spanguard" / "out.otlp.jsonl")
    s = report["summary"]
    rc = 0
    if s["attacks_succeeded"] < s["attacks"]:
        say("an attack did not achieve what it claims: the lab is broken (see lab/run/log/attacks.log)")
        rc = 1
    met = s["caught"] == s["attacks"] and s["graph_false_intervals_per_hour"] <= 1.0
    say(f"targets (graph <= 1 false alarm/h, every attack caught): {'met' if met else 'NOT met'}")
    if require_caught and s["caught"] < s["attacks"]:
        say("an attack was not caught by either detector")
        rc = 1
    if strict and not met:
        rc = 1
    print(f"LAB normal_minutes={s['normal_minutes']:.1f} false_alarms={s['false_alarms']} "
          f"attacks={s['caught']}/{s['attacks']}")
    return rc


def short(d):
    text = json.dumps(d)
    return text if len(text) < 140 else text[:137] + "..."


# ---------------------------------------------------------------- analysis


def analyse(p, phases, tail, ivals, models, offline):
    I = INTERVAL_S
    with tail.lock:
        windows = sorted(tail.windows.values(), key=lambda w: (w["start"], w["id"]))
        incidents = sorted(tail.incidents, key=lambda x: x["start"])
    warm_end = max((e for k, _, s, e, _ in phases if k == "warmup"), default=phases[0][2])
    end_all = phases[-1][3]
    attacks = [(n, s, e, x) for k, n, s, e, x in phases if k == "attack"]
    settle = 2 * I  # after an attack its aftermath (connections closing, caches) is not "normal" yet

    def in_attack(t0, t1):
        # Attacks and their settle time; and whatever comes after the schedule ended (the load stops, spanguard
        # drains) is not normal operation either.
        return t1 > end_all or any(t0 < e + settle and t1 > s for _, s, e, _ in attacks)

    def detectors(x):
        d = x.get("anomaly.detectors") or []
        return d if isinstance(d, list) else [d]

    rows = []
    for name, s, e, res in attacks:
        row = {"attack": name, "start": s, "end": e, "ok": res["ok"], "caught": False, "by": [], "delay": None,
               "evidence": []}
        # Graph: an anomalous interval among the first two intervals of the attack (or during it), reported in an
        # incident.
        k0 = math.floor(s / I) * I
        g_hits = [iv for iv in ivals if k0 <= iv["start"] < max(k0 + 2 * I, e)]
        g_inc = [x for x in incidents if "graph" in detectors(x) and x["end"] >= k0 and x["start"] < max(k0 + 2 * I, e) + I
                 and x["arrived"] >= s]
        in_time = [iv for iv in g_hits if iv["start"] < k0 + 2 * I]
        if in_time and g_inc:
            row["by"].append("graph")
            row["graph_delay"] = min(x["arrived"] for x in g_inc) - s
            row["graph_score"] = max(iv["score"] for iv in in_time)
            row["graph_threshold"] = in_time[0]["threshold"]
        # Frequency: one of the first two windows that hold the attack's traces flagged.
        aw = [w for w in windows if w["end"] >= s and w["start"] <= e][:2]
        f_inc = [x for x in incidents if "frequency" in detectors(x) and x.get("anomaly.window.id") in
                 {w["id"] for w in aw}]
        if f_inc:
            row["by"].append("frequency")
            row["frequency_delay"] = min(x["arrived"] for x in f_inc) - s
        row["caught"] = bool(row["by"])
        delays = [row.get(f"{d}_delay") for d in row["by"]]
        row["delay"] = min(delays) if delays else None
        # What the incidents say (those overlapping the attack and its settle time), per detector that fired.
        related = [x for x in incidents if x["end"] >= s and x["start"] <= e + settle]
        row["incidents"] = len(related)
        for det in ("graph", "frequency"):
            mine = [x for x in related if det in detectors(x)]
            if mine:
                row[f"{det}_top"] = (mine[0].get(f"anomaly.{det}.top") or [])[:3]
        svcs = []
        for x in related:
            if "graph" in detectors(x):
                for sv in x.get("anomaly.graph.services") or []:
                    if sv not in svcs:
                        svcs.append(sv)
        row["services"] = svcs[:4]
        if not row["by"]:
            row["graph_best"] = max((iv["score"] for iv in ivals if k0 <= iv["start"] < e + 2 * I), default=None)
        # The forensic recording's view of the attack's intervals: never-seen edges and the autoencoder's score.
        fo = [offline[k] for k in sorted(offline) if k0 <= k < max(k0 + 2 * I, e + I)]
        new_edges = []
        for d in fo:
            for u in d["unknown_edges"]:
                if u not in new_edges:
                    new_edges.append(u)
        row["forensic_new_edges"] = len(new_edges)
        row["forensic_new_shown"] = unknown_shown(new_edges, 6)
        row["forensic_score"] = max((d["score"] for d in fo), default=None)
        row["forensic_threshold"] = fo[0]["threshold"] if fo else None
        row["forensic_top"] = [x["edge"] for d in fo if d["score"] > d["threshold"] for x in d["top_edges"][:2]][:3]
        rows.append(row)

    # Normal operation: after the warm-up, outside attacks and their settle time.
    normal_s = 0.0
    for k, n, s, e, _ in phases:
        if k in ("normal", "variation") and s >= warm_end:
            normal_s += e - s
    for name, s, e, _ in attacks:  # the settle time after an attack is not counted as normal
        normal_s -= min(settle, max(0.0, end_all - e))
    fa_incidents = [x for x in incidents if x["start"] >= warm_end and not in_attack(x["start"], x["end"])]
    fa_graph_iv = [iv for iv in ivals if iv["start"] >= warm_end and not in_attack(iv["start"], iv["start"] + I)]
    fa_freq = [x for x in fa_incidents if "frequency" in detectors(x)]
    fa_graph_inc = [x for x in fa_incidents if "graph" in detectors(x)]
    warm_inc = [x for x in incidents if x["start"] < warm_end]
    hours = max(normal_s, 1.0) / 3600

    def where(t):
        for k, n, s, e, _ in phases:
            if s <= t < e:
                return n
        return "?"

    false_alarms = []
    for x in fa_incidents:
        false_alarms.append({"start": x["start"], "during": where(x["start"]), "detectors": detectors(x),
                             "graph_score": x.get("anomaly.graph.score"), "graph_threshold": x.get("anomaly.graph.threshold"),
                             "frequency_score": x.get("anomaly.frequency.score"),
                             "frequency_threshold": x.get("anomaly.frequency.threshold"),
                             "top": (x.get("anomaly.graph.top") or []) + (x.get("anomaly.frequency.top") or [])})
    graph_fa = []
    for iv in fa_graph_iv:
        fo = offline.get(round(iv["start"]))
        graph_fa.append(iv | {"during": where(iv["start"]),
                              "new_edges": unknown_shown(fo["unknown_edges"], 3) if fo else [],
                              "top": [x["edge"] for x in fo["top_edges"][:2]] if fo else []})
    fo_normal = [d for k, d in offline.items() if k >= warm_end and not in_attack(k, k + I)]
    n_windows = len([w for w in windows if w["start"] >= warm_end and not in_attack(w["start"], w["end"])])
    summary = {
        "normal_minutes": normal_s / 60,
        "false_alarms": len(fa_incidents),
        "false_alarms_per_hour": len(fa_incidents) / hours,
        "graph_false_intervals": len(fa_graph_iv),
        "graph_false_intervals_per_hour": len(fa_graph_iv) / hours,
        "graph_false_windows": len(fa_graph_inc),
        "frequency_false_windows": len(fa_freq),
        "frequency_false_per_hour": len(fa_freq) / hours,
        "windows": n_windows,
        "forensic_intervals": len(fo_normal),
        "forensic_false_intervals": sum(1 for d in fo_normal if d["anomalous"]),
        "forensic_false_by_new_edges": sum(1 for d in fo_normal if d["anomalous"] and d["score"] <= d["threshold"]),
        "warmup_incidents": len(warm_inc),
        "caught": sum(1 for r in rows if r["caught"]),
        "attacks": len(rows),
        "attacks_succeeded": sum(1 for r in rows if r["ok"]),
    }
    return {"summary": summary, "attacks": rows, "false_alarms": false_alarms, "graph_false_intervals": graph_fa,
            "phases": [(k, n, s, e) for k, n, s, e, _ in phases], "models": str(models)}


def print_report(r):
    s = r["summary"]
    print()
    print("attack                 succeeded  caught  by                after")
    for a in r["attacks"]:
        by = "+".join(a["by"]) or "-"
        after = f"{a['delay']:.1f} s" if a["delay"] is not None else "-"
        print(f"{a['attack']:22} {'yes' if a['ok'] else 'NO':9}  {'yes' if a['caught'] else 'no':6}  {by:16} {after:>7}")
        if a.get("graph_top"):
            print(f"    graph incident: services [{', '.join(a['services'])}]; top: {'; '.join(a['graph_top'])}")
        if a.get("frequency_top"):
            print(f"    frequency incident: {'; '.join(x[:150] for x in a['frequency_top'][:2])}")
    print()
    print(f"normal operation: {s['normal_minutes']:.1f} min (after a {r['phases'][0][3] - r['phases'][0][2]:.0f} s "
          f"warm-up; variations included), {s['windows']} windows scored")
    print(f"false alarms: {s['false_alarms']} incident windows ({s['false_alarms_per_hour']:.1f}/h): "
          f"frequency {s['frequency_false_windows']} windows ({s['frequency_false_per_hour']:.1f}/h), "
          f"graph {s['graph_false_windows']} windows from {s['graph_false_intervals']} anomalous intervals "
          f"({s['graph_false_intervals_per_hour']:.1f} intervals/h); warm-up incidents {s['warmup_incidents']}")
    for fa in r["false_alarms"][:12]:
        print(f"  false alarm at {time.strftime('%H:%M:%S', time.localtime(fa['start']))} during {fa['during']}: "
              f"{'+'.join(fa['detectors'])} graph {fmt(fa['graph_score'])}/{fmt(fa['graph_threshold'])} "
              f"frequency {fmt(fa['frequency_score'])}/{fmt(fa['frequency_threshold'])}: {'; '.join(fa['top'][:3])}")
    for iv in r["graph_false_intervals"][:16]:
        print(f"  graph interval {time.strftime('%H:%M:%S', time.localtime(iv['start']))} during {iv['during']}: "
              f"score {iv['score']:.2f}/{iv['threshold']:.2f}, {iv['unknown_edges']} never-seen edges "
              f"{', '.join(iv['new_edges'])}{' …' if iv['unknown_edges'] > 3 else ''}")
    print(f"forensic recording (a second probe, scored offline): {s['forensic_false_intervals']} of "
          f"{s['forensic_intervals']} normal intervals anomalous, {s['forensic_false_by_new_edges']} of them only "
          f"because of never-seen edges")
    print()
    print("attack                 graph intervals (forensic): score/threshold, never-seen edges")
    for a in r["attacks"]:
        sc = f"{a['forensic_score']:.2f}/{a['forensic_threshold']:.2f}" if a["forensic_score"] is not None else "-"
        print(f"{a['attack']:22} {sc:>13}  {a['forensic_new_edges']:4} new: {', '.join(a['forensic_new_shown'])}")


def fmt(x):
    return f"{x:.2f}" if isinstance(x, (int, float)) else "-"


# ---------------------------------------------------------------- entry points


def main(cmd, argv):
    ap = argparse.ArgumentParser(prog=f"scripts/lab {cmd}")
    ap.add_argument("--quick", action="store_true", help="a few minutes (CI): 5 min of training, a short schedule")
    ap.add_argument("--train-minutes", type=float)
    ap.add_argument("--normal-minutes", type=float, help="full run: extra normal operation after the attacks")
    ap.add_argument("--keep", action="store_true", help="leave the lab up afterwards")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--require-caught", action="store_true",
                    help="exit 1 when an attack was not caught (false alarms are reported, not gated)")
    if cmd == "eval":
        ap.add_argument("--attack-script", action="append", default=[], help="your own executable: one more attack")
        ap.add_argument("--attack-in", action="append", default=[], help="the service whose cgroup it runs in")
    a = ap.parse_args(argv)
    if os.geteuid() != 0:
        # Without root there are no cgroups to create and no eBPF: the one place the lab may skip.
        if os.environ.get("SPANGUARD_REQUIRE_EBPF") == "1":
            raise SystemExit("[lab] needs root (cgroups, the eBPF probe) and SPANGUARD_REQUIRE_EBPF=1 forbids skipping")
        say("skipped: not root (the lab needs cgroups and the eBPF probe)")
        print("LAB skipped: eBPF not permitted")
        return 0
    p = Profile(a.quick, a.train_minutes, a.normal_minutes)
    if cmd == "train":
        if not lab.is_up():
            lab.up(models=None)
        models = train(p)
        lab.start_spanguard(models)
        lab.write_lab_env(RUN / "spanguard" / "out.otlp.jsonl")
        say(f"models in {models}; spanguard now guards the lab with them")
        return 0
    if len(a.attack_script) != len(a.attack_in):
        raise SystemExit("[lab] give one --attack-in SERVICE per --attack-script FILE")
    extra = []
    for script, inside in zip(a.attack_script, a.attack_in):
        if inside not in SERVICES:
            raise SystemExit(f"[lab] --attack-in {inside}: not one of {', '.join(SERVICES)}")
        path = Path(os.environ.get("LAB_CALLER_PWD", "."), script).resolve()
        if not os.access(path, os.X_OK):
            raise SystemExit(f"[lab] --attack-script {script}: not an executable file")
        extra.append((f"user:{path.name}", [path], inside, "your attack script"))
    return run_eval(p, extra, a.keep, a.strict, a.require_caught)
