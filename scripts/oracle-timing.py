#!/usr/bin/env python3
"""Does the time of a 404 tell another tenant's row from a missing id? (SPEC §5.7, item 12 of the
attack report: 2–12 µs on DELETE and PATCH.)

Starts `ward serve` on examples/tasks, lets one user own rows, and has another user PATCH and
DELETE those rows' ids and ids that exist nowhere, interleaved, on one keep-alive connection.
Every answer must be the same 404 body; the script prints the median and the 10 % trimmed mean
latency of each kind and their difference.

Usage: scripts/oracle-timing.py [--pairs N] [--backend sqlite|postgres]
Environment: WARD_BIN (default target/release/ward), WARD_TEST_POSTGRES_URL for Postgres.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid

import wardlab


def trimmed(xs, cut=0.1):
    xs = sorted(xs)
    k = int(len(xs) * cut)
    return statistics.mean(xs[k:len(xs) - k])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pairs", type=int, default=20000)
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    a = p.parse_args()
    ward = wardlab.ward_bin()
    work = tempfile.mkdtemp()
    project = wardlab.copy_example(work)
    base = os.environ.get("WARD_TEST_POSTGRES_URL")
    schema = None
    if a.backend == "postgres":
        schema, database = wardlab.pg_schema(base)
    else:
        database = f"sqlite://{work}/data.db"
    server = wardlab.Server(ward, project, database, ["--failed-auth-rate", "0"])
    try:
        server.start()
        port = server.port

        def token(sub):
            return wardlab.token(ward, project, sub)

        owner, other = token("owner"), token("other")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

        def call(method, path, tok, body=None):
            started = time.perf_counter_ns()
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers={"Authorization": f"Bearer {tok}",
                                  "Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            return time.perf_counter_ns() - started, r.status, data

        foreign = []
        for i in range(200):
            _, status, data = call("POST", "/api/tasks", owner, {"title": f"t{i}"})
            foreign.append(json.loads(data)["data"]["id"])
        times = {(m, k): [] for m in ("PATCH", "DELETE") for k in ("foreign", "missing")}
        body404 = None
        for n in range(a.pairs):
            method = ("PATCH", "DELETE")[n % 2]
            pair = [("foreign", random.choice(foreign)), ("missing", str(uuid.uuid4()))]
            random.shuffle(pair)
            for kind, rid in pair:
                body = {"title": "x"} if method == "PATCH" else None
                ns, status, data = call(method, f"/api/tasks/{rid}", other, body)
                if status != 404 or (body404 is not None and data != body404):
                    raise SystemExit(f"{method} {kind}: {status} {data!r}")
                body404 = data
                times[(method, kind)].append(ns / 1000)
    finally:
        server.stop()
        if schema:
            wardlab.drop_schema(base, schema)
        shutil.rmtree(work, ignore_errors=True)
    print(f"{a.backend}: {a.pairs} pairs, every answer the same 404 body")
    for method in ("PATCH", "DELETE"):
        f, m = times[(method, "foreign")], times[(method, "missing")]
        print(f"  {method:6} foreign median {statistics.median(f):7.1f} µs, trimmed mean "
              f"{trimmed(f):7.1f}; missing median {statistics.median(m):7.1f}, trimmed mean "
              f"{trimmed(m):7.1f}; difference of medians {statistics.median(f) - statistics.median(m):+.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
