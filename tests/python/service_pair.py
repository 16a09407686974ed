"""A client and a server exchanging requests for DURATION seconds (the server logs each one), as a steady
workload for the probe's pipeline tests. Waits for a line on stdin before starting.

usage: service_pair.py WORKDIR DURATION
"""
import os
import socket
import sys
import time

work, duration = sys.argv[1], float(sys.argv[2])
sys.stdin.readline()
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
port = srv.getsockname()[1]
if os.fork() == 0:
    c = socket.create_connection(("127.0.0.1", port))
    end = time.time() + duration
    while time.time() < end:
        c.sendall(b"q" * 2000)
        got = 0
        while got < 500:
            got += len(c.recv(4096))
        time.sleep(0.02)
    c.close()
    os._exit(0)
conn, _ = srv.accept()
log = open(os.path.join(work, "server.log"), "ab", buffering=0)
while True:
    got = 0
    while got < 2000:
        d = conn.recv(4096)
        if not d:
            break
        got += len(d)
    if got < 2000:
        break
    conn.sendall(b"a" * 500)
    log.write(b"served one request\n")
os.wait()
