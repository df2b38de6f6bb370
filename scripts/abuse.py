#!/usr/bin/env python3
"""Re-measures the attack report's connection findings (SPEC §5.7 "Connections") on `ward serve`.

  idle      ward under an open-files limit of 1,024 (soft and hard); 1,100 idle sockets are
            opened; a probe sends GET /healthz on a fresh connection every 50 ms. Reports the
            probes answered, their latency, and how many idle sockets the server closed.
  slowbody  2,000 POSTs announce 1 MiB and send 1 MiB − 100 B, then stall. Reports ward's RSS
            at its peak and after the body timeout, and the answers the stalled clients got.

Usage: scripts/abuse.py idle|slowbody [--seconds S] [--count N]
Environment: WARD_BIN (default target/release/ward). Needs `prlimit` (util-linux) for `idle`.
"""

import argparse
import os
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time

import wardlab


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def start(ward, work, prefix=()):
    """ward serving a copy of the tasks example, and a member's token."""
    project = wardlab.copy_example(work)
    log = open(os.path.join(work, "ward.log"), "w")
    server = wardlab.Server(ward, project, prefix=prefix, log=log).start()
    return server, wardlab.token(ward, project, "attacker")


def probe(port, timeout=30):
    started = time.time()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.settimeout(timeout)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            ok = s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        ok = False
    return ok, time.time() - started


def idle(ward, a):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as work:
        server, _ = start(ward, work, prefix=("prlimit", "--nofile=1024:1024"))
        port = server.port
        sockets, refused = [], 0
        for _ in range(a.count):
            try:
                sockets.append(socket.create_connection(("127.0.0.1", port), timeout=0.5))
            except OSError:
                refused += 1
        results = []
        stop = time.time() + a.seconds
        while time.time() < stop:
            results.append(probe(port))
            time.sleep(0.05)
        closed = 0
        for s in sockets:
            s.setblocking(False)
            try:
                closed += s.recv(1) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
            s.close()
        server.stop()
    answered = [t for ok, t in results if ok]
    print(f"idle: {len(sockets)} idle sockets opened ({refused} not: the backlog was full) under "
          f"an fd limit of 1,024; {a.seconds:g} s of probes")
    print(f"  probes answered {len(answered)} of {len(results)}; latency p50 "
          f"{1000 * statistics.median(answered) if answered else float('nan'):.1f} ms, max "
          f"{1000 * max(answered) if answered else float('nan'):.1f} ms")
    print(f"  idle sockets closed by the server: {closed} of {len(sockets)}")


def slowbody(ward, a):
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as work:
        server, token = start(ward, work)
        port, proc = server.port, server.proc
        base = rss_kib(proc.pid)
        head = (f"POST /api/tasks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {1 << 20}\r\n\r\n").encode()
        body = b" " * ((1 << 20) - 100)
        sockets, answers, lock = [], {}, threading.Lock()

        def attacker():
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=60)
                s.sendall(head + body)
            except OSError:
                return
            with lock:
                sockets.append(s)
            try:
                s.settimeout(60)
                status = s.recv(12)[9:12].decode() or "closed"
            except OSError:
                status = "error"
            with lock:
                answers[status] = answers.get(status, 0) + 1

        threads = [threading.Thread(target=attacker, daemon=True) for _ in range(a.count)]
        started = time.time()
        for t in threads:
            t.start()
        peak = base
        while any(t.is_alive() for t in threads) and time.time() - started < 90:
            peak = max(peak, rss_kib(proc.pid))
            time.sleep(0.2)
        settled = time.time() - started
        time.sleep(2)
        after = rss_kib(proc.pid)
        ok, latency = probe(port)
        for s in sockets:
            s.close()
        server.stop()
    print(f"slowbody: {a.count} POSTs of 1 MiB − 100 B that stall")
    print(f"  RSS before {base / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB, 2 s after the last "
          f"answer {after / 1024:.0f} MiB; all answered within {settled:.1f} s")
    print(f"  answers {dict(sorted(answers.items()))}; a probe afterwards: "
          f"{'200' if ok else 'failed'} in {1000 * latency:.1f} ms")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=["idle", "slowbody"])
    p.add_argument("--seconds", type=float, default=40)
    p.add_argument("--count", type=int, default=None)
    a = p.parse_args()
    ward = wardlab.ward_bin()
    if a.mode == "idle":
        a.count = a.count or 1100
        idle(ward, a)
    else:
        a.count = a.count or 2000
        slowbody(ward, a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
