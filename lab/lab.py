"""The spanguard lab: a small real shop (nginx, three Flask services under gunicorn, redis, PostgreSQL 15) under
spanguard's guard. Run through `scripts/lab` (as root), which installs what is missing first.

  scripts/lab up                      start everything; writes lab/run/lab.env
  scripts/lab down                    stop everything, remove the cgroups
  scripts/lab status                  what runs
  scripts/lab exec SERVICE CMD...     run CMD inside SERVICE's cgroup (what an attacker with a foothold does)
  scripts/lab restart SERVICE [--hard]  restart one service: gunicorn's graceful reload (--hard: stop, start), redis, nginx
  scripts/lab replica start|stop      a second frontend replica behind nginx
  scripts/lab rotate                  log rotation (nginx, gunicorn, PostgreSQL)
  scripts/lab checkpoint | vacuum     PostgreSQL maintenance, run by the DBA inside the database's cgroup
  scripts/lab train [--minutes N]     record normal operation and train both detectors (lab/run/model)
  scripts/lab eval [--quick] [--attack-script FILE --attack-in SERVICE]   train, then the scored schedule

Every process the lab starts lives in a cgroup-v2 directory under /sys/fs/cgroup/unified/sglab/: one per service
(watched by the probe) and `tools` (spanguard, the load generator, attackers' listeners; not watched).
"""

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

LAB = Path(__file__).resolve().parent
REPO = LAB.parent
RUN = LAB / "run"
VENV = LAB / ".venv"
APP = LAB / "app"
def _cgroup2_mount():
    """Where cgroup v2 is mounted: /sys/fs/cgroup/unified on hybrid hosts (as here), /sys/fs/cgroup on pure v2."""
    if os.environ.get("LAB_CGROUP_ROOT"):
        return Path(os.environ["LAB_CGROUP_ROOT"])
    for cand in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if Path(cand, "cgroup.controllers").exists():
            return Path(cand)
    return Path("/sys/fs/cgroup/unified")


CG_ROOT = _cgroup2_mount() / "sglab"
PG_BIN = Path("/usr/lib/postgresql/15/bin")

PORTS = {
    "nginx": 18080,
    "frontend": 18081,
    "auth": 18082,
    "catalogue": 18083,
    "frontend-2": 18085,
    "redis": 16379,
    "postgres": 15432,
    "otlp_grpc": 24317,
    "otlp_http": 24318,
    "metrics": 28888,
}
# The application's services, each in its own cgroup, in start order.
SERVICES = ("postgres", "redis", "auth", "catalogue", "frontend", "nginx")
# gunicorn worker processes per Python service.
WORKERS = {"frontend": 4, "auth": 2, "catalogue": 3}
TOOLS = "tools"


def say(msg):
    print(f"[lab] {msg}", flush=True)


# ---------------------------------------------------------------- processes and cgroups


def cgroup(name):
    """The cgroup-v2 directory of `name`, created if missing."""
    path = CG_ROOT / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def cgroup_pids(name):
    try:
        return [int(p) for p in (CG_ROOT / name / "cgroup.procs").read_text().split()]
    except FileNotFoundError:
        return []


def pidfile(name):
    return RUN / "pids" / f"{name}.pid"


def read_pid(name):
    try:
        pid = int(pidfile(name).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][0] != "Z"
    except FileNotFoundError:
        return False


def lab_env():
    """The environment every lab process gets: lab.env's values plus what the services need."""
    env = dict(os.environ)
    env.update(
        LAB_OTLP=f"http://127.0.0.1:{PORTS['otlp_grpc']}",
        LAB_REDIS_PORT=str(PORTS["redis"]),
        LAB_AUTH_URL=f"http://127.0.0.1:{PORTS['auth']}",
        LAB_CATALOGUE_URL=f"http://127.0.0.1:{PORTS['catalogue']}",
        LAB_RUN=str(RUN),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.update(read_env_file(RUN / "lab.env"))
    return env


def spawn(name, argv, group, *, user=None, env=None, log=None, cwd=None):
    """Starts `argv` as a daemon inside cgroup `group` (the child joins it before exec, so everything it starts is
    in it from its first instruction); records its pid under lab/run/pids/<name>.pid."""
    cg = cgroup(group) / "cgroup.procs"
    uid = gid = None
    if user:
        pw = pwd.getpwnam(user)
        uid, gid = pw.pw_uid, pw.pw_gid

    def enter():
        os.setsid()
        with open(cg, "w") as f:
            f.write(str(os.getpid()))
        if uid is not None:
            os.initgroups(user, gid)
            os.setgid(gid)
            os.setuid(uid)

    logf = open(log or RUN / "log" / f"{name}.out", "ab")
    p = subprocess.Popen(
        [str(a) for a in argv],
        stdin=subprocess.DEVNULL,
        stdout=logf,
        stderr=subprocess.STDOUT,
        preexec_fn=enter,
        env=env or lab_env(),
        cwd=cwd or RUN,
        close_fds=True,
    )
    logf.close()
    pidfile(name).write_text(str(p.pid))
    return p


def stop(name, sig=signal.SIGTERM, timeout=20):
    """Stops the process recorded as `name` (and waits for it)."""
    pid = read_pid(name)
    if pid is None:
        pidfile(name).unlink(missing_ok=True)
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
    deadline = time.time() + timeout
    while alive(pid) and time.time() < deadline:
        try:  # our own child (eval): reap it
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.1)
    if alive(pid):
        say(f"{name} (pid {pid}) ignored {signal.Signals(sig).name} for {timeout}s: SIGKILL")
        os.kill(pid, signal.SIGKILL)
    pidfile(name).unlink(missing_ok=True)


def sweep(group, grace=5):
    """Ends whatever is still inside cgroup `group` (all of it started by the lab), then removes the directory."""
    path = CG_ROOT / group
    if not path.exists():
        return
    pids = cgroup_pids(group)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + grace
    while cgroup_pids(group) and time.time() < deadline:
        time.sleep(0.1)
    left = cgroup_pids(group)
    if left:
        say(f"cgroup {group}: SIGKILL to {left}")
        kill = path / "cgroup.kill"
        if kill.exists():
            kill.write_text("1")
        else:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        deadline = time.time() + 5
        while cgroup_pids(group) and time.time() < deadline:
            time.sleep(0.1)
    for _ in range(50):
        try:
            path.rmdir()
            return
        except OSError:
            time.sleep(0.1)
    say(f"could not remove {path}: {cgroup_pids(group)} still in it")


def wait_port(port, timeout=30, what=None, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                break
            time.sleep(0.2)
    raise SystemExit(f"[lab] {what or port} did not come up on port {port}; see {RUN / 'log'}")


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read()


# ---------------------------------------------------------------- configuration files


def fill(template, **extra):
    text = (LAB / "conf" / template).read_text()
    values = {"RUN": str(RUN)} | {f"PORT_{k.upper().replace('-', '_')}": str(v) for k, v in PORTS.items()} | extra
    for k, v in values.items():
        text = text.replace(f"@@{k}@@", v)
    return text


def read_env_file(path):
    out = {}
    try:
        for line in Path(path).read_text().splitlines():
            if "=" in line and not line.startswith("#"):
                k, _, v = line.partition("=")
                out[k.strip()] = v.strip().strip("'\"")
    except FileNotFoundError:
        pass
    return out


def spanguard_bin():
    """The spanguard binary: $SPANGUARD, else the workspace's release or debug build, else PATH."""
    for cand in (os.environ.get("SPANGUARD"), REPO / "target/release/spanguard", REPO / "target/debug/spanguard"):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return str(cand)
    found = shutil.which("spanguard")
    if found:
        return found
    raise SystemExit("[lab] no spanguard binary: build it (cargo build --release) or set SPANGUARD=/path/to/spanguard")


def spanguard_env():
    """The environment spanguard needs: ORT_DYLIB_PATH from scripts/env (ONNX Runtime in the repo's .venv)."""
    env = lab_env()
    out = subprocess.run([str(REPO / "scripts/env")], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("export ") and "=" in line:
            k, _, v = line[len("export "):].partition("=")
            env.setdefault(k, v)
    return env


def service_patterns():
    """probe rules: a cgroup path fragment per service (roles come from the cgroup, not the binary: every Python
    service runs the same interpreter)."""
    return {f"sglab/{s}": s for s in SERVICES}


def write_spanguard_config(path, *, out, models=None, window=50):
    """spanguard's config: OTLP in on loopback, the file exporter out (and LAB_FORWARD, an OTLP endpoint, if set);
    with `models`, both detectors, the graph detector fed live by the eBPF probe on the services' cgroups."""
    lines = [
        "# Written by lab/lab.py.",
        "receivers:",
        "  otlp:",
        "    protocols:",
        f"      grpc: {{ endpoint: \"127.0.0.1:{PORTS['otlp_grpc']}\" }}",
        f"      http: {{ endpoint: \"127.0.0.1:{PORTS['otlp_http']}\" }}",
        "processors:",
        "  anomaly:",
        "    trace_wait: 2s",
        f"    window: {{ traces: {window}, timeout: 10s }}",
    ]
    if models:
        services = ", ".join(f"\"{k}\": {v}" for k, v in service_patterns().items())
        cgroups = ", ".join(str(CG_ROOT / s) for s in SERVICES)
        lines += [
            f"    frequency: {{ model: \"{models}/frequency.json\" }}",
            "    graph:",
            f"      model: \"{models}/graph\"",
            f"      events: {{ source: ebpf, interval: 1s, cgroups: [{cgroups}], services: {{ {services} }} }}",
        ]
    exporters = ["file"]
    lines += ["exporters:", f"  file: {{ path: \"{out}\" }}"]
    if os.environ.get("LAB_FORWARD"):
        lines += [f"  otlp: {{ endpoint: \"{os.environ['LAB_FORWARD']}\" }}"]
        exporters.append("otlp")
    lines += [
        "service:",
        "  pipelines:",
        f"    traces: {{ receivers: [otlp], processors: [anomaly], exporters: [{', '.join(exporters)}] }}",
        "  telemetry:",
        f"    metrics: {{ address: \"127.0.0.1:{PORTS['metrics']}\" }}",
        "    logs: { level: info, encoding: json }",
        "  shutdown_timeout: 10s",
    ]
    Path(path).write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- the services


def secret_files():
    sec = RUN / "secrets"
    sec.mkdir(parents=True, exist_ok=True)
    key = sec / "auth-signing.key"
    if not key.exists():
        key.write_text(secrets.token_hex(32) + "\n")
        key.chmod(0o600)
    pw = sec / "db-password"
    if not pw.exists():
        pw.write_text(secrets.token_urlsafe(18) + "\n")
        pw.chmod(0o600)
    return key, pw.read_text().strip()


def pg_dsn():
    _, pw = secret_files()
    return f"host=127.0.0.1 port={PORTS['postgres']} dbname=shop user=shop password={pw}"


def as_postgres(argv, **kw):
    return subprocess.run(["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *map(str, argv)], **kw)


def psql(sql, db="postgres", **kw):
    """psql as the postgres superuser over the cluster's Unix socket."""
    return as_postgres(
        [PG_BIN / "psql", "-h", RUN / "pg-sock", "-p", PORTS["postgres"], "-d", db, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
        check=True, capture_output=True, text=True, **kw,
    )


def start_postgres():
    data = RUN / "pgdata"
    fresh = not (data / "PG_VERSION").exists()
    for d in (data, RUN / "pg-sock", RUN / "log" / "postgres"):
        d.mkdir(parents=True, exist_ok=True)
        shutil.chown(d, "postgres", "postgres")
    data.chmod(0o700)
    if fresh:
        say("initdb (PostgreSQL 15) into lab/run/pgdata")
        as_postgres([PG_BIN / "initdb", "-D", data, "-U", "postgres", "--auth-local=peer", "--auth-host=scram-sha-256",
                     "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
        with open(data / "postgresql.conf", "a") as f:
            f.write("\n" + fill("postgresql.conf"))
    p = spawn("postgres", [PG_BIN / "postgres", "-D", data], "postgres", user="postgres")
    wait_port(PORTS["postgres"], 60, "postgres", p)
    for _ in range(100):
        if as_postgres([PG_BIN / "pg_isready", "-q", "-h", RUN / "pg-sock", "-p", PORTS["postgres"]]).returncode == 0:
            break
        time.sleep(0.2)
    if not (RUN / "db.seeded").exists():
        say("creating the shop database and seeding it (20,000 users, 400 products)")
        _, pw = secret_files()
        psql("DROP DATABASE IF EXISTS shop")
        psql("DROP ROLE IF EXISTS shop")
        psql(f"CREATE ROLE shop LOGIN PASSWORD '{pw}'")
        psql("CREATE DATABASE shop OWNER shop")
        env = lab_env() | {"PGPASSWORD": pw}
        subprocess.run([PG_BIN / "psql", "-h", "127.0.0.1", "-p", str(PORTS["postgres"]), "-U", "shop", "-d", "shop",
                        "-qX", "-v", "ON_ERROR_STOP=1", "-f", APP / "schema.sql"], check=True, env=env,
                       capture_output=True)
        subprocess.run([VENV / "bin/python", APP / "seed.py", pg_dsn(), RUN], check=True, env=env)
        (RUN / "db.seeded").write_text(time.strftime("%F %T\n"))


def start_redis():
    (RUN / "redis").mkdir(exist_ok=True)
    (RUN / "redis" / "redis.conf").write_text(fill("redis.conf"))
    p = spawn("redis", ["redis-server", RUN / "redis" / "redis.conf"], "redis")
    wait_port(PORTS["redis"], 20, "redis", p)


def start_app(service, replica=None):
    """One Python service: gunicorn with several worker processes, in the service's cgroup."""
    name = replica or service
    key, _ = secret_files()
    env = lab_env() | {"LAB_AUTH_KEY_FILE": str(key)}
    if service in ("auth", "catalogue"):
        env["LAB_PG_DSN"] = pg_dsn()  # the frontend has no database credentials
    argv = [
        VENV / "bin/gunicorn", f"{service}:app",
        "--chdir", APP,
        "--bind", f"127.0.0.1:{PORTS[name]}",
        "--workers", str(WORKERS[service] if not replica else 2),
        # Threads with HTTP keep-alive: nginx and the frontend keep their connections to the services open.
        "--worker-class", "gthread", "--threads", "4", "--keep-alive", "75",
        "--timeout", "30",
        "--access-logfile", RUN / "log" / f"{name}.access.log",
        "--error-logfile", RUN / "log" / f"{name}.error.log",
        "--name", name,
        "--no-control-socket",
    ]
    p = spawn(name, argv, service, env=env)
    wait_port(PORTS[name], 60, name, p)
    return p


def write_upstream(replica=False):
    servers = [f"server 127.0.0.1:{PORTS['frontend']};"]
    if replica:
        servers.append(f"server 127.0.0.1:{PORTS['frontend-2']};")
    servers.append("keepalive 16;")
    (RUN / "nginx" / "upstream.conf").write_text("upstream frontend {\n    " + "\n    ".join(servers) + "\n}\n")


def start_nginx():
    ngx = RUN / "nginx"
    for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (ngx / d).mkdir(parents=True, exist_ok=True)
        shutil.chown(ngx / d, "www-data", "www-data")
    (ngx / "nginx.conf").write_text(fill("nginx.conf"))
    write_upstream(False)
    p = spawn("nginx", ["nginx", "-c", ngx / "nginx.conf", "-p", ngx], "nginx")
    wait_port(PORTS["nginx"], 20, "nginx", p)


def start_spanguard(models=None, out=None):
    """spanguard as the app's OTLP hop: with both detectors when `models` holds trained ones, else as a recording
    pass-through (file exporter only)."""
    sg = RUN / "spanguard"
    sg.mkdir(exist_ok=True)
    out = out or sg / "out.otlp.jsonl"
    cfg = sg / "spanguard.yaml"
    write_spanguard_config(cfg, out=out, models=models)
    bin_ = spanguard_bin()
    check = subprocess.run([bin_, "validate", "--config", cfg], capture_output=True, text=True, env=spanguard_env())
    if check.returncode != 0:
        raise SystemExit(f"[lab] spanguard config rejected: {check.stdout}{check.stderr}")
    p = spawn("spanguard", [bin_, "run", "--config", cfg], TOOLS, env=spanguard_env(),
              log=RUN / "log" / "spanguard.log")
    wait_port(PORTS["metrics"], 30, "spanguard", p)
    wait_port(PORTS["otlp_grpc"], 30, "spanguard", p)
    return cfg, out


def write_lab_env(out):
    lines = [f"LAB_URL=http://127.0.0.1:{PORTS['nginx']}"]
    lines += [f"LAB_CGROUP_{s.upper()}={CG_ROOT / s}" for s in SERVICES]
    lines += [
        f"LAB_SERVICES=\"{' '.join(SERVICES)}\"",
        f"LAB_SPANGUARD_METRICS=127.0.0.1:{PORTS['metrics']}",
        f"LAB_SPANGUARD_OUT={out}",
        f"LAB_SPANGUARD_LOG={RUN / 'log' / 'spanguard.log'}",
        f"LAB_SPANGUARD_OTLP=http://127.0.0.1:{PORTS['otlp_grpc']}",
        f"LAB_SPANGUARD_MODELS={RUN / 'model' if (RUN / 'model' / 'frequency.json').exists() else ''}",
        f"LAB_FRONTEND_URL=http://127.0.0.1:{PORTS['frontend']}",
        f"LAB_AUTH_URL=http://127.0.0.1:{PORTS['auth']}",
        f"LAB_CATALOGUE_URL=http://127.0.0.1:{PORTS['catalogue']}",
        f"LAB_REDIS_PORT={PORTS['redis']}",
        f"LAB_PG_PORT={PORTS['postgres']}",
        f"LAB_RUN={RUN}",
    ]
    tmp = RUN / "lab.env.tmp"
    tmp.write_text("\n".join(lines) + "\n")
    tmp.rename(RUN / "lab.env")


def is_up():
    return read_pid("nginx") is not None or any(cgroup_pids(s) for s in SERVICES)


def have_models(models=None):
    m = Path(models or RUN / "model")
    return (m / "frequency.json").exists() and (m / "graph" / "graph.json").exists()


def up(models="auto"):
    if os.geteuid() != 0:
        raise SystemExit("[lab] up needs root (cgroups, PostgreSQL as the postgres user, the eBPF probe)")
    if is_up():
        say("already up (scripts/lab down first to restart)")
        return
    for d in ("pids", "log", "spanguard"):
        (RUN / d).mkdir(parents=True, exist_ok=True)
    if models == "auto":
        models = RUN / "model" if have_models() else None
    cfg, out = start_spanguard(models)
    say(f"spanguard {'guarding (frequency + graph/eBPF)' if models else 'recording (pass-through, no models yet)'}:"
        f" {out}")
    start_postgres()
    start_redis()
    for s in ("auth", "catalogue", "frontend"):
        start_app(s)
    start_nginx()
    write_lab_env(out)
    status, body = http_get(f"http://127.0.0.1:{PORTS['nginx']}/")
    n = len(json.loads(body).get("products", []))
    say(f"up: http://127.0.0.1:{PORTS['nginx']}/ answers {status} with {n} featured products; lab/run/lab.env written")


def down():
    if os.geteuid() != 0:
        raise SystemExit("[lab] down needs root")
    for name in ("loadgen", "probe", "nginx", "frontend-2", "frontend", "catalogue", "auth", "redis"):
        stop(name, signal.SIGQUIT if name == "nginx" else signal.SIGTERM)
    stop("postgres", signal.SIGINT, 60)  # fast shutdown
    stop("spanguard", signal.SIGTERM, 30)  # drains: flushes what it holds to the file exporter
    for group in (*SERVICES, TOOLS):
        sweep(group)
    if CG_ROOT.exists():
        for extra in CG_ROOT.iterdir():
            if extra.is_dir():
                sweep(extra.name)
        try:
            CG_ROOT.rmdir()
        except OSError as e:
            say(f"could not remove {CG_ROOT}: {e}")
    (RUN / "lab.env").unlink(missing_ok=True)
    say("down: no lab process left, cgroups removed")


def status():
    for name in ("spanguard", *SERVICES, "frontend-2", "loadgen"):
        pid = read_pid(name)
        group = TOOLS if name in ("spanguard", "loadgen") else name.split("-")[0]
        print(f"{name:12} {'up, pid ' + str(pid) if pid else 'down':18} cgroup {group}: {len(cgroup_pids(group))} processes")


# ---------------------------------------------------------------- normal variations


def restart(service, hard=False):
    """Restarts a service as operators do: a Python service by gunicorn's graceful reload (SIGHUP: every worker
    replaced by a new process that imports the app again and opens new connections, the old ones finishing their
    requests; nothing fails). `hard`: stop, then start — an outage of a second or two, whose failed requests the
    frequency detector reports, as it should."""
    if service in WORKERS and not hard:
        pid = read_pid(service)
        if pid is None:
            raise SystemExit(f"[lab] restart: {service} is not running")
        before = set(worker_pids(pid))
        os.kill(pid, signal.SIGHUP)
        deadline = time.time() + 60
        while time.time() < deadline:  # done when every worker is a new one
            now = set(worker_pids(pid))
            if len(now) >= WORKERS[service] and not now & before:
                return
            time.sleep(0.2)
        raise SystemExit(f"[lab] restart: {service}'s workers were not replaced within 60 s")
    if service in WORKERS:
        stop(service)
        start_app(service)
    elif service == "redis":
        stop("redis")
        start_redis()
    elif service == "nginx":
        stop("nginx", signal.SIGQUIT)
        start_nginx()
    else:
        raise SystemExit(f"[lab] restart: {service} is not one of {', '.join([*WORKERS, 'redis', 'nginx'])}")


def worker_pids(master):
    """The pids of a process's children."""
    try:
        return [int(x) for x in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        return []


def nginx_reload():
    pid = read_pid("nginx")
    if pid:
        os.kill(pid, signal.SIGHUP)


def replica(action):
    if action == "start":
        start_app("frontend", replica="frontend-2")
        write_upstream(True)
        nginx_reload()
    elif action == "stop":
        write_upstream(False)
        nginx_reload()
        time.sleep(1)
        stop("frontend-2")
    else:
        raise SystemExit("[lab] replica start|stop")


def rotate():
    """Log rotation as logrotate would do it: rename, then ask each server to reopen its logs."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    old = RUN / "log" / "old"
    old.mkdir(exist_ok=True)
    for f in (RUN / "log").glob("*.log"):
        if f.name.split(".")[0] in ("nginx", "frontend", "frontend-2", "auth", "catalogue"):
            f.rename(old / f"{f.name}.{stamp}")
    for name in ("nginx", "frontend", "frontend-2", "auth", "catalogue"):
        pid = read_pid(name)
        if pid:
            os.kill(pid, signal.SIGUSR1)
    as_postgres([PG_BIN / "pg_ctl", "logrotate", "-D", RUN / "pgdata"], capture_output=True)
    # The rotated files are compressed later by logrotate; here they are simply kept a while.
    for f in sorted(old.iterdir(), key=lambda f: f.stat().st_mtime)[:-60]:
        f.unlink()


def dba(sql):
    """SQL run by the DBA on the database host: psql over the Unix socket, inside the database's cgroup."""
    argv = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", PG_BIN / "psql", "-h", RUN / "pg-sock",
            "-p", PORTS["postgres"], "-d", "shop", "-qAt", "-c", sql]
    p = spawn("dba", argv, "postgres")
    p.wait(timeout=300)
    pidfile("dba").unlink(missing_ok=True)


def checkpoint():
    dba("CHECKPOINT")


def vacuum():
    dba("VACUUM (ANALYZE) orders, order_items, products, reviews")


def exec_in(service, argv):
    """Runs argv inside `service`'s cgroup, in the foreground; returns its exit code."""
    if service not in SERVICES:
        raise SystemExit(f"[lab] exec: {service} is not one of {', '.join(SERVICES)}")
    cg = cgroup(service) / "cgroup.procs"

    def enter():
        with open(cg, "w") as f:
            f.write(str(os.getpid()))

    return subprocess.run(argv, preexec_fn=enter, env=lab_env()).returncode


def main(argv):
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        return 0
    cmd, rest = argv[0], argv[1:]
    if cmd == "up":
        up()
    elif cmd == "down":
        down()
    elif cmd == "status":
        status()
    elif cmd == "exec":
        if len(rest) < 2:
            raise SystemExit("[lab] exec SERVICE CMD...")
        return exec_in(rest[0], rest[1:])
    elif cmd == "restart":
        hard = "--hard" in rest
        names = [r for r in rest if r != "--hard"]
        restart(names[0] if names else "", hard=hard)
    elif cmd == "replica":
        replica(rest[0] if rest else "")
    elif cmd == "rotate":
        rotate()
    elif cmd == "checkpoint":
        checkpoint()
    elif cmd == "vacuum":
        vacuum()
    elif cmd in ("eval", "train"):
        import evaluate

        return evaluate.main(cmd, rest)
    else:
        raise SystemExit(f"[lab] unknown command {cmd!r}; see scripts/lab --help")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
