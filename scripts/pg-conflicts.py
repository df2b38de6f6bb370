#!/usr/bin/env python3
"""How often disjoint writers get 503 on Postgres (SPEC §5.7: serialization failures are retried in
the server; two tenants writing disjoint rows should not see 503s).

Each client is its own user of examples/tasks, owns a few rows, and for --seconds repeats an
atomic batch PATCH of all of them, a single PATCH, or a create; a --noisy client meanwhile
creates and deletes its own rows. Prints the 503 rate per kind of request.

Usage: scripts/pg-conflicts.py [--clients N] [--seconds S] [--rows R]
Environment: WARD_BIN (default target/release/ward), WARD_TEST_POSTGRES_URL (a schema of its own
is created and dropped; needs psql).
"""

import argparse
import collections
import http.client
import json
import os
import sys
import tempfile
import threading
import time

import wardlab


def call(conn, method, path, tok, body=None):
    conn.request(method, path, body=None if body is None else json.dumps(body),
                 headers={"Authorization": f"Bearer {tok}", "Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    return r.status, (json.loads(data) if data else None)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--seconds", type=float, default=15)
    p.add_argument("--rows", type=int, default=3)
    p.add_argument("--noisy", type=int, default=1)
    a = p.parse_args()
    base = os.environ.get("WARD_TEST_POSTGRES_URL")
    if not base:
        print("skipped: WARD_TEST_POSTGRES_URL is not set")
        return 0
    ward = wardlab.ward_bin()
    schema, database = wardlab.pg_schema(base)
    work = tempfile.mkdtemp()
    project = wardlab.copy_example(work)
    log = open(os.path.join(work, "ward.log"), "w")
    server = wardlab.Server(ward, project, database, log=log)
    port = server.port
    counts = collections.defaultdict(collections.Counter)
    lock = threading.Lock()
    try:
        server.start()

        def token(sub):
            return wardlab.token(ward, project, sub)

        stop = time.time() + a.seconds

        def steady(i):
            tok = token(f"steady{i}")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            ids = [call(conn, "POST", "/api/tasks", tok, {"title": f"s{i}-{k}"})[1]["data"]["id"]
                   for k in range(a.rows)]
            n = 0
            while time.time() < stop:
                n += 1
                kind = ("batch-patch", "patch", "create")[n % 3]
                if kind == "batch-patch":
                    status, _ = call(conn, "PATCH", "/api/tasks/batch", tok,
                                     {"records": [{"id": x, "title": f"b{n}"} for x in ids],
                                      "options": {"atomic": True}})
                elif kind == "patch":
                    status, _ = call(conn, "PATCH", f"/api/tasks/{ids[0]}", tok, {"title": f"p{n}"})
                else:
                    status, _ = call(conn, "POST", "/api/tasks", tok, {"title": f"c{n}"})
                with lock:
                    counts[kind][status] += 1

        def noisy(i):
            tok = token(f"noisy{i}")
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            while time.time() < stop:
                status, body = call(conn, "POST", "/api/tasks/batch", tok,
                                    {"records": [{"title": "n"} for _ in range(3)],
                                     "options": {"atomic": True}})
                with lock:
                    counts["noisy-create"][status] += 1
                if status == 201:
                    ids = [r["id"] for r in body["success"]]
                    status, _ = call(conn, "DELETE", "/api/tasks/batch", tok,
                                     {"ids": ids, "options": {"atomic": True}})
                    with lock:
                        counts["noisy-delete"][status] += 1

        threads = [threading.Thread(target=steady, args=(i,)) for i in range(a.clients)]
        threads += [threading.Thread(target=noisy, args=(i,)) for i in range(a.noisy)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        server.stop()
        log.close()
        wardlab.drop_schema(base, schema)
    total = sum(sum(c.values()) for c in counts.values())
    busy = sum(c[503] for c in counts.values())
    print(f"{a.clients} steady clients, {a.noisy} noisy, {a.seconds:g} s: "
          f"{busy} of {total} requests answered 503 ({100 * busy / max(total, 1):.2f} %)")
    for kind, c in sorted(counts.items()):
        n = sum(c.values())
        print(f"  {kind:13} {n:6} requests, 503: {c[503]:5} ({100 * c[503] / max(n, 1):.2f} %), "
              f"statuses {dict(sorted(c.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
