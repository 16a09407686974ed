"""Two processes exchanging known byte counts over TCP, UDP, a pipe and a file, for the probe's tests.

Waits for a line on stdin before starting (so the test can place it in a cgroup first), then prints one JSON
object with the pids, ports and path. Descriptors stay open for a second after use: the probe resolves an fd
while it is open.
"""
import json
import os
import socket
import sys
import time

work = sys.argv[1]
sys.stdin.readline()

tcp = socket.socket(); tcp.bind(("127.0.0.1", 0)); tcp.listen(1)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", 0))
r, w = os.pipe()
path = os.path.join(work, "shared.dat")
ready_r, ready_w = os.pipe()

child = os.fork()
if child == 0:
    os.close(w)
    c = socket.create_connection(tcp.getsockname())
    c.sendall(b"t" * 100_000)
    got = 0
    while got < 50_000:
        got += len(c.recv(65536))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for _ in range(5):
        u.sendto(b"u" * 1000, udp.getsockname())
    got = 0
    while got < 4096:
        got += len(os.read(r, 4096))
    f = open(path, "wb", buffering=0)
    f.write(b"f" * 8192)
    # A shell-style redirect: fd n is /dev/null, then dup2 makes it a file with no close in between.
    n = os.open(os.devnull, os.O_WRONLY)
    os.write(n, b"n" * 111)
    time.sleep(0.3)
    redirected = os.open(path + ".redirected", os.O_WRONLY | os.O_CREAT)
    os.dup2(redirected, n)
    os.write(n, b"r" * 3333)
    os.write(ready_w, b"1")
    time.sleep(1.5)
    f.close(); c.close(); u.close(); os.close(n); os.close(redirected)
    os._exit(0)

os.close(r)
conn, _ = tcp.accept()
got = 0
while got < 100_000:
    got += len(conn.recv(65536))
conn.sendall(b"s" * 50_000)
peers = set()
for _ in range(5):
    data, addr = udp.recvfrom(2048)
    peers.add(addr[1])
os.write(w, b"p" * 4096)
os.read(ready_r, 1)
g = open(path, "rb", buffering=0)
data = g.read(8192)
assert len(data) == 8192
print(json.dumps({"parent": os.getpid(), "child": child, "tcp_port": tcp.getsockname()[1],
                  "udp_port": udp.getsockname()[1], "udp_peer_port": peers.pop(), "path": path}), flush=True)
time.sleep(1.5)
g.close(); conn.close()
os.waitpid(child, 0)
