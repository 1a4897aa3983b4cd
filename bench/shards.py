#!/usr/bin/env python3
"""The router's overhead, driven by bench/shards (see README, "Scale out").

Workload 1 (the per-request touch) and session_create, each two ways on one
throwaway server in one run: directly on a database with the extension,
and through a session_proxy router in front of 4 shard databases of the
same server (PL/Proxy connecting over the Unix socket).  pgbench -M
prepared, the same clients for both, the sides alternated, medians of
--runs runs.  Every request names its token with the same one-row lookup in
a local table (bench.keys on the direct side, on the router on the other).

On one machine the shards share its cores, so this measures what the
router adds to each request, not how throughput grows with shards.
"""
import argparse
import datetime
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (bench.py, copied beside this file by bench/shards)
from bench import log, psql  # noqa: E402

SHARDS = 4
TOUCH = "SELECT * FROM session_touch((SELECT token FROM bench.keys WHERE n = :n));"
CREATE = f"SELECT session_create('user' || :n, '{bench.DATA}');"
WORKLOADS = (("touch", "workload 1: request, rolling expiry (session_touch)", TOUCH),
             ("create", "session_create", CREATE))


def setup(nvar):
    host, port = os.environ["PGHOST"], os.environ["PGPORT"]
    psql("CREATE DATABASE direct", db="postgres")
    psql("CREATE EXTENSION session", db="direct")
    for k in range(SHARDS):
        psql(f"CREATE DATABASE shard_{k}", db="postgres")
        psql(f"CREATE EXTENSION session; ALTER DATABASE shard_{k} SET session.shards = {SHARDS}; "
             f"ALTER DATABASE shard_{k} SET session.shard = {k}", db=f"shard_{k}")
    psql("CREATE DATABASE router", db="postgres")
    parts = ", ".join(f"p{k} 'dbname=shard_{k} host={host} port={port}'" for k in range(SHARDS))
    psql("CREATE EXTENSION plproxy; CREATE EXTENSION session_proxy; "
         f"CREATE SERVER session_shards FOREIGN DATA WRAPPER plproxy OPTIONS ({parts}); "
         "CREATE USER MAPPING FOR CURRENT_USER SERVER session_shards", db="router")
    for db in ("direct", "router"):
        psql("CREATE SCHEMA bench; CREATE TABLE bench.keys (n int PRIMARY KEY, token text NOT NULL); "
             f"INSERT INTO bench.keys SELECT i, session_create('user' || i, '{bench.DATA}') "
             f"FROM generate_series(1, {nvar}) i; ANALYZE bench.keys", db=db)
    spread = psql("SELECT string_agg(c::text, ' / ' ORDER BY s) FROM "
                  f"(SELECT session_shard_hash(token) & {SHARDS - 1} s, count(*) c "
                  "FROM bench.keys GROUP BY 1) x", db="router")
    return spread


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sessions", type=int, default=100000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--port", type=int, default=5489)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, 1-second runs")
    args = ap.parse_args()
    if args.smoke:
        args.sessions, args.seconds, args.runs = 1000, 1, 1
    i = sys.argv.index("--out")
    argv = sys.argv[1:i] + sys.argv[i + 2:]

    server = bench.Server(args.out, args.port)
    try:
        log(f"{args.sessions} sessions directly and through the router ({SHARDS} shards)")
        spread = setup(args.sessions)
        tps = {(w, side): [] for w, _, _ in WORKLOADS for side in ("direct", "router")}
        for r in range(args.runs):
            for w, _, script in WORKLOADS:
                # alternate which side goes first, run by run
                sides = ("direct", "router") if r % 2 == 0 else ("router", "direct")
                for side in sides:
                    t, _ = bench.pgbench(args.out, f"{w}-{side}", script, args.seconds, args,
                                         db=side, nvar=args.sessions)
                    tps[(w, side)].append(t)
                    log(f"run {r + 1}: {w} {side}: {t:.0f} requests/s")
        version = psql("SHOW server_version", db="postgres")
        plproxy = psql("SELECT extversion FROM pg_extension WHERE extname = 'plproxy'", db="router")
    finally:
        server.stop()

    lines = ["# The router's overhead: session_proxy with 4 shards against one database", "",
             f"- date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC",
             f"- machine: {bench.machine()}",
             f"- PostgreSQL {version}, PL/Proxy {plproxy}; the router and its {SHARDS} shard databases "
             "on the one server, PL/Proxy over the Unix socket",
             f"- command: `{' '.join(['bash', 'bench/shards'] + argv)}`",
             f"- sessions: {args.sessions} in each (on the shards: {spread}); pgbench -M prepared "
             f"-c {args.clients} -j {args.threads}, {args.seconds} s a run, {args.runs} runs a side, "
             "alternated; medians", "",
             "| workload | direct req/s | router req/s | router / direct | runs (direct / router) |",
             "|---|---|---|---|---|"]
    for w, title, _ in WORKLOADS:
        d, p = statistics.median(tps[(w, "direct")]), statistics.median(tps[(w, "router")])
        runs = ", ".join(f"{a:.0f} / {b:.0f}" for a, b in zip(tps[(w, "direct")], tps[(w, "router")]))
        lines.append(f"| {title} | {d:.0f} | {p:.0f} | {p / d:.2f}x | {runs} |")
    lines += ["", "On one machine the shards share its 2 cores with the router: these figures are "
              "the router's cost per request, not a scaling measurement."]
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
