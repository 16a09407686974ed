"""What every attack script shares: the lab's addresses (lab/run/lab.env) and the labelled result line.

Each attack prints, as its last line, one JSON object:
  {"attack": NAME, "start": epoch_s, "end": epoch_s, "ok": true|false, "detail": ...}
`ok` says the attack really achieved what it claims (checked by the script itself), not whether it was detected.
Standard library only, so the scripts run with any python3 in any cgroup.
"""

import json
import os
import sys
import time
from pathlib import Path

RUN = Path(os.environ.get("LAB_RUN") or Path(__file__).resolve().parents[1] / "run")


def lab_env():
    env = {}
    for line in (RUN / "lab.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k] = v.strip("'\"")
    return env


ENV = lab_env()
URL = ENV["LAB_URL"]


def log(msg):
    print(f"  {msg}", file=sys.stderr, flush=True)


class Attack:
    """Labels an attack with its start and end: `with Attack("name") as a: ...; a.ok = True`."""

    def __init__(self, name):
        self.name, self.ok, self.detail = name, False, {}

    def __enter__(self):
        self.start = time.time()
        log(f"{self.name}: start {time.strftime('%H:%M:%S')}")
        return self

    def __exit__(self, exc_type, exc, tb):
        self.end = time.time()
        if exc is not None:
            self.detail["error"] = f"{exc_type.__name__}: {exc}"
        log(f"{self.name}: end {time.strftime('%H:%M:%S')} ({self.end - self.start:.1f} s) ok={self.ok}")
        print(json.dumps({"attack": self.name, "start": round(self.start, 3), "end": round(self.end, 3),
                          "ok": self.ok, "detail": self.detail}), flush=True)
        sys.exit(0 if self.ok else 1)
