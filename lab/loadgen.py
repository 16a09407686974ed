#!/usr/bin/env python3
"""The shop's customers: visits arrive at random (Poisson), each a realistic journey through the site — browsing,
searching, logging in, filling a cart, asking for a shipping quote, ordering, checking the account, writing a
review — with think times between clicks. The request rate swings smoothly between --rate-min and --rate-max over
--period seconds (x5 by default) and the mix of journeys (share of buyers) swings over --mix-period.

  loadgen.py --url http://127.0.0.1:18080 [--duration 600] [--rate-min 3 --rate-max 15] [--period 240]

Every 10 s one line of statistics goes to stdout. Stops on SIGTERM/SIGINT. Standard library + requests only.
"""

import argparse
import csv
import math
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "app"))
from seed import CATEGORIES, search_terms  # noqa: E402

TERMS = search_terms()
PRODUCTS = 400
ZIPS = ["10115", "10245", "20095", "80331", "50667", "60311", "70173", "01067", "04109", "30159"]
REQUESTS_PER_VISIT = 6.0  # measured average over the mix; turns a request rate into a visit rate

stats = Counter()
stats_lock = threading.Lock()
stopping = threading.Event()


def count(key, n=1):
    with stats_lock:
        stats[key] += n


class Visit:
    def __init__(self, base, rnd, customers):
        self.base, self.rnd, self.customers = base, rnd, customers
        self.s = requests.Session()
        self.s.headers["User-Agent"] = rnd.choice(
            ["Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1) Safari/605.1",
             "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0"])

    def think(self, mean=0.8):
        if not stopping.is_set():
            time.sleep(min(3.0, self.rnd.expovariate(1 / mean)))

    def req(self, method, path, **kw):
        if stopping.is_set():
            raise StopIteration
        try:
            r = self.s.request(method, self.base + path, timeout=20, **kw)
            count(f"{r.status_code // 100}xx")
            return r
        except requests.RequestException:
            count("conn_error")
            return None
        finally:
            count("requests")

    def product(self):
        return self.rnd.randint(1, PRODUCTS) if self.rnd.random() < 0.4 else self.rnd.randint(1, 40)

    def search(self):
        term = self.rnd.choice(TERMS)
        if self.rnd.random() < 0.3:
            term = f"{self.rnd.choice(TERMS)} {self.rnd.choice(CATEGORIES)}"
        r = self.req("GET", "/search", params={"q": term})
        try:
            return [int(row[0]) for row in r.json()["results"]] if r is not None and r.ok else []
        except (ValueError, KeyError):
            return []

    def login(self):
        user, password = self.rnd.choice(self.customers)
        if self.rnd.random() < 0.06:  # a typo first, then the right password
            r = self.req("POST", "/login", json={"username": user, "password": password[:-1]})
            self.think(1.5)
        r = self.req("POST", "/login", json={"username": user, "password": password})
        return r is not None and r.ok

    # ------------------------------------------------------------------ journeys

    def browse(self):
        self.req("GET", "/")
        for _ in range(self.rnd.randint(1, 4)):
            self.think()
            self.req("GET", f"/product/{self.product()}")
        if self.rnd.random() < 0.5:
            self.think()
            self.search()

    def searcher(self):
        found = []
        for _ in range(self.rnd.randint(1, 3)):
            found = self.search() or found
            self.think()
        for pid in found[: self.rnd.randint(1, 2)]:
            self.req("GET", f"/product/{pid}")
            self.think()

    def buyer(self):
        self.req("GET", "/")
        self.think()
        if not self.login():
            return
        for _ in range(self.rnd.randint(1, 3)):
            self.think()
            found = self.search() if self.rnd.random() < 0.5 else []
            pid = found[0] if found else self.product()
            self.req("GET", f"/product/{pid}")
            self.think()
            self.req("POST", "/cart", json={"product_id": pid, "qty": self.rnd.randint(1, 3)})
        self.think()
        self.req("GET", "/cart")
        zip_code = self.rnd.choice(ZIPS)
        self.req("GET", "/shipping", params={"zip": zip_code})
        self.think(1.5)
        if self.rnd.random() < 0.8:
            self.req("POST", "/checkout", json={"zip": zip_code})
            self.think()
            if self.rnd.random() < 0.3:
                self.req("GET", "/account")
        if self.rnd.random() < 0.5:
            self.req("POST", "/logout")

    def returning(self):
        if self.login():
            self.think()
            self.req("GET", "/account")
            self.think()
            self.req("POST", "/logout")

    def reviewer(self):
        if self.login():
            pid = self.product()
            self.req("GET", f"/product/{pid}")
            self.think(2.0)
            self.req("POST", "/review", json={"product_id": pid, "stars": self.rnd.randint(1, 5),
                                               "body": self.rnd.choice(["Solid.", "Would buy again.", "Meh."])})


def journey_weights(buyers):
    """Journey mix for a share of buyers (the rest browses, searches, comes back, reviews)."""
    rest = 1.0 - buyers
    return {"browse": rest * 0.5, "searcher": rest * 0.3, "returning": rest * 0.15, "reviewer": rest * 0.05,
            "buyer": buyers}


def run_visit(base, seed, customers, buyers):
    rnd = random.Random(seed)
    v = Visit(base, rnd, customers)
    w = journey_weights(buyers)
    kind = rnd.choices(list(w), weights=list(w.values()))[0]
    count(f"visit_{kind}")
    try:
        getattr(v, kind)()
    except StopIteration:
        pass
    finally:
        v.s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=os.environ.get("LAB_URL", "http://127.0.0.1:18080"))
    ap.add_argument("--customers", default=os.path.join(os.environ.get("LAB_RUN", "lab/run"), "customers.csv"))
    ap.add_argument("--duration", type=float, default=0, help="seconds; 0 = until stopped")
    ap.add_argument("--rate-min", type=float, default=3.0, help="requests/s at the trough")
    ap.add_argument("--rate-max", type=float, default=15.0, help="requests/s at the peak")
    ap.add_argument("--period", type=float, default=240.0, help="seconds from trough to trough")
    ap.add_argument("--mix-period", type=float, default=420.0, help="seconds of the buyers' share cycle")
    ap.add_argument("--buyers-min", type=float, default=0.15)
    ap.add_argument("--buyers-max", type=float, default=0.40)
    ap.add_argument("--phase", type=float, default=0.0, help="start this many seconds into the cycles")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    with open(a.customers) as f:
        customers = [(r["username"], r["password"]) for r in csv.DictReader(f)]
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    rnd = random.Random(a.seed)
    pool = ThreadPoolExecutor(max_workers=96)
    pending = [0]
    plock = threading.Lock()

    def done(_):
        with plock:
            pending[0] -= 1

    t0 = time.time()
    next_report = t0 + 10
    last = Counter()
    seq = 0
    while not stopping.is_set() and (a.duration <= 0 or time.time() - t0 < a.duration):
        t = time.time() - t0 + a.phase
        swing = 0.5 - 0.5 * math.cos(2 * math.pi * t / a.period)
        rate = a.rate_min + (a.rate_max - a.rate_min) * swing
        buyers = a.buyers_min + (a.buyers_max - a.buyers_min) * (0.5 - 0.5 * math.cos(2 * math.pi * t / a.mix_period))
        visits_per_s = rate / REQUESTS_PER_VISIT
        time.sleep(min(1.0, rnd.expovariate(visits_per_s)))
        if stopping.is_set():
            break
        with plock:
            if pending[0] > 300:
                count("shed")
                continue
            pending[0] += 1
        seq += 1
        pool.submit(run_visit, a.url, a.seed * 1_000_003 + seq, customers, buyers).add_done_callback(done)
        if time.time() >= next_report:
            with stats_lock:
                now = Counter(stats)
            d = {k: now[k] - last[k] for k in now}
            last = now
            print(f"loadgen t={t:6.0f}s target={rate:5.1f}/s buyers={buyers:.2f} requests={d.get('requests', 0) / 10:5.1f}/s "
                  f"2xx={d.get('2xx', 0)} 4xx={d.get('4xx', 0)} 5xx={d.get('5xx', 0)} conn_err={d.get('conn_error', 0)} "
                  f"active={pending[0]}", flush=True)
            next_report += 10
    stopping.set()
    pool.shutdown(wait=True, cancel_futures=True)
    print(f"loadgen done: {dict(stats)}", flush=True)


if __name__ == "__main__":
    main()
