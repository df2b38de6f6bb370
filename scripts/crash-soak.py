#!/usr/bin/env python3
"""Crash consistency under kill -9 (SPEC §5.7 "Durability"): no acknowledged write is ever lost.

Each run starts `ward serve` on examples/tasks, lets several clients write (single creates,
atomic batch creates, updates of their own rows), kills the server with SIGKILL at a random
moment, starts it again on the same database and checks, through the API, that

- every create answered 201 (or batch answered 201) is there,
- no atomic batch is there in part,
- every updated row holds its last acknowledged title, or one sent after it (a write in flight
  when the server died may or may not have committed; one acknowledged must have).

Usage: scripts/crash-soak.py [--backend sqlite|postgres] [--runs N] [--max-seconds S]
                             [--clients C] [--sqlite-sync full|normal]
Environment: WARD_BIN (default target/debug/ward), WARD_TEST_POSTGRES_URL for --backend postgres
(each run in a schema of its own, dropped afterwards; needs psql). Exit 1 if anything was lost.
"""

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import threading
import time

from wardlab import Server, copy_example, drop_schema, pg_schema, token, ward_bin


def request(port, method, path, token, body, timeout=10, conn=None):
    own = conn is None
    if own:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        r = conn.getresponse()
        data = r.read()
        return r.status, (json.loads(data) if data else None)
    finally:
        if own:
            conn.close()


class Client(threading.Thread):
    """Writes until the server goes away; remembers what was acknowledged and what was sent."""

    def __init__(self, port, tok, name, rng):
        super().__init__(daemon=True)
        self.port, self.tok, self.name, self.rng = port, tok, name, rng
        self.created = set()         # ids answered 201
        self.batches = []            # (titles, acknowledged) of atomic batch creates
        self.updates = {}            # id -> [(title, acknowledged)] in the order sent
        self.acknowledged = 0
        self.failure = None          # an answer no write may get (the soak fails)
        self.busy = 0                # 503s: nothing written, the client may retry

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        n = 0
        try:
            while True:
                n += 1
                roll = self.rng.random()
                if roll < 0.5 or not self.created:
                    status, body = request(self.port, "POST", "/api/tasks", self.tok,
                                           {"title": f"{self.name}-{n}"}, conn=conn)
                    if status == 201:
                        self.created.add(body["data"]["id"])
                        self.acknowledged += 1
                    elif status == 503:
                        self.busy += 1
                    else:
                        self.failure = f"create answered {status}: {body}"
                        return
                elif roll < 0.7:
                    titles = [f"{self.name}-{n}-b{i}" for i in range(5)]
                    entry = [titles, False]
                    self.batches.append(entry)
                    status, body = request(self.port, "POST", "/api/tasks/batch", self.tok,
                                        {"records": [{"title": t} for t in titles],
                                         "options": {"atomic": True}}, conn=conn)
                    if status == 201:
                        entry[1] = True
                        self.acknowledged += 1
                    elif status == 503:
                        self.busy += 1
                    else:
                        self.failure = f"batch create answered {status}: {body}"
                        return
                else:
                    rid = self.rng.choice(sorted(self.created))
                    title = f"{self.name}-{n}-u"
                    sent = self.updates.setdefault(rid, [])
                    sent.append([title, False])
                    status, body = request(self.port, "PATCH", f"/api/tasks/{rid}", self.tok,
                                           {"title": title}, conn=conn)
                    if status == 200:
                        sent[-1][1] = True
                        self.acknowledged += 1
                    elif status == 503:
                        self.busy += 1
                    else:
                        self.failure = f"update answered {status}: {body}"
                        return
        except (OSError, http.client.HTTPException, ValueError):
            return  # the server died


def all_titles(port, tok):
    """Every task of the caller: id -> title."""
    out, cursor = {}, None
    while True:
        path = "/api/tasks?limit=100" + (f"&cursor={cursor}" if cursor else "")
        status, body = request(port, "GET", path, tok, None)
        if status != 200:
            raise SystemExit(f"listing after restart answered {status}: {body}")
        for row in body["data"]:
            out[row["id"]] = row["title"]
        cursor = body.get("pagination", {}).get("nextCursor")
        if not cursor:
            return out


def check(client, titles):
    lost = [rid for rid in client.created if rid not in titles]
    present = set(titles.values())
    partial = 0
    for batch_titles, acknowledged in client.batches:
        there = sum(t in present for t in batch_titles)
        if there not in (0, len(batch_titles)):
            partial += 1
        elif acknowledged and there == 0:
            lost.append(batch_titles[0])
    stale = 0
    for rid, sent in client.updates.items():
        acked = [i for i, (_, ok) in enumerate(sent) if ok]
        if not acked or rid not in titles:
            continue
        allowed = {t for t, _ in sent[acked[-1]:]}
        if titles[rid] not in allowed:
            stale += 1
    return len(lost), partial, stale


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--max-seconds", type=float, default=3.0)
    p.add_argument("--clients", type=int, default=6)
    p.add_argument("--sqlite-sync", choices=["full", "normal"], default="full")
    p.add_argument("--seed", type=int, default=None)
    a = p.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)
    ward = ward_bin("target/debug/ward")
    base = os.environ.get("WARD_TEST_POSTGRES_URL")
    if a.backend == "postgres" and not base:
        print("skipped: WARD_TEST_POSTGRES_URL is not set, so the Postgres soak does not run")
        return 0
    print(f"crash soak: {a.backend}, {a.runs} runs, seed {seed}")
    totals = {"acknowledged": 0, "lost": 0, "partial": 0, "stale": 0}
    with tempfile.TemporaryDirectory() as work:
        project = copy_example(work)
        for run in range(a.runs):
            schema = None
            if a.backend == "postgres":
                schema, database = pg_schema(base)
            else:
                database = f"sqlite://{work}/run{run}.db"
            log = open(os.path.join(work, f"run{run}.log"), "w")
            server = Server(ward, project, database, ["--sqlite-sync", a.sqlite_sync], log=log)
            try:
                server.start()
                clients = [Client(server.port, token(ward, project, f"c{run}-{i}"), f"c{run}-{i}",
                                  random.Random(rng.randrange(1 << 32))) for i in range(a.clients)]
                for c in clients:
                    c.start()
                time.sleep(rng.uniform(0.3, a.max_seconds))
                server.kill()
                for c in clients:
                    c.join(timeout=15)
                server.start()
                lost = partial = stale = acknowledged = 0
                busy = sum(c.busy for c in clients)
                failures = [c.failure for c in clients if c.failure]
                if failures:
                    raise SystemExit(f"run {run}: {failures[0]}")
                for c in clients:
                    l, pa, st = check(c, all_titles(server.port, c.tok))
                    lost, partial, stale = lost + l, partial + pa, stale + st
                    acknowledged += c.acknowledged
                server.stop()
            finally:
                server.stop()
                log.close()
                if schema:
                    drop_schema(base, schema)
            if acknowledged == 0:
                raise SystemExit(f"run {run}: no write was acknowledged before the kill; see the log")
            print(f"run {run}: acknowledged {acknowledged}, lost {lost}, partial batches {partial}, "
                  f"stale updates {stale} (503 busy: {busy})")
            for k, v in (("acknowledged", acknowledged), ("lost", lost), ("partial", partial),
                         ("stale", stale)):
                totals[k] += v
    print(f"total over {a.runs} kill -9 runs: acknowledged {totals['acknowledged']}, "
          f"lost {totals['lost']}, partial batches {totals['partial']}, stale updates {totals['stale']}")
    return 1 if totals["lost"] or totals["partial"] or totals["stale"] else 0


if __name__ == "__main__":
    sys.exit(main())
