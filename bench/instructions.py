#!/usr/bin/env python3
"""Instructions per request, counted by callgrind: driven by bench/instructions.

Requests per second on a small VM drift by a third within minutes; the
instructions a backend executes for a request do not.  This loads the
benchmark's stores (bench.py's setup), restarts the server under
valgrind --tool=callgrind, and for each request script runs pgbench with
one client twice, --small and --large transactions, each on its own
connection: the difference of the two backends' instruction counts over
the difference in transactions is what one request costs the backend,
without connection start-up.  Only the serving backend is counted: not
pgbench, the kernel or other processes (the WAL writer a commit wakes).
Under valgrind OpenSSL does not see the CPU's SHA instructions, so the
token check counts more than it costs on the bare CPU.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the stores, workloads and psql helper)

NEVER = "400d"      # the largest touch_interval: no session is due for a write

# the get-4keys script runs with this many more keys than the one that
# signed the tokens: each check tries every key (README, Security model)
EXTRA_KEYS = 3
ADD_KEYS = f"SELECT session_rotate_key() FROM generate_series(1, {EXTRA_KEYS})"
DROP_KEYS = ("DELETE FROM session_internal.keys WHERE id <> "
             "(SELECT id FROM session_internal.keys ORDER BY created_at LIMIT 1)")

# name -> (what, script, PGOPTIONS[, SQL before, SQL after])
SCRIPTS = [
    ("lookup", "harness: the key lookup alone (0)", bench.WORKLOADS[0][1], ""),
    ("ceiling", "ceiling: primary-key SELECT of the session's row (7)", bench.WORKLOADS[7][1], ""),
    ("get", "session_get (3)", bench.WORKLOADS[3][1], ""),
    ("get-4keys", f"session_get with {1 + EXTRA_KEYS} signing keys", bench.WORKLOADS[3][1], "",
     ADD_KEYS, DROP_KEYS),
    ("touch", "session_touch, no expiry write due", bench.WORKLOADS[1][1],
     f"-c session.touch_interval={NEVER}"),
    ("touch-write", "session_touch, writing every time (2)", bench.WORKLOADS[2][1],
     "-c session.touch_interval=0"),
    ("base-get", "baseline: the get (3)", bench.WORKLOADS[3][2], ""),
    ("base-touch", "baseline: get + touch (1)", bench.WORKLOADS[1][2], ""),
    ("create", "session_create (4)", bench.WORKLOADS[4][1], ""),
    ("base-create", "baseline: the upsert (4)", bench.WORKLOADS[4][2], ""),
]


def wait_ready(seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if subprocess.run(["pg_isready", "-q"]).returncode == 0:
            return
        time.sleep(1)
    sys.exit("the server under valgrind did not accept connections")


def profile_total(path):
    """The instruction count of a finished profile, None while it is written."""
    total = None
    with open(path) as f:
        for line in f:
            if line.startswith("totals:"):
                total = int(line.split()[1])
    return total


def counted_backend(cgdir, seen, deadline=120):
    """The profile of the backend that served the last pgbench run: the
    largest new one (pgbench's first connection only asks the server's
    settings), once no new profile has appeared for two seconds."""
    end = time.time() + deadline
    last, stable_since = None, time.time()
    while time.time() < end:
        new = [p for p in glob.glob(os.path.join(cgdir, "cg.*")) if p not in seen]
        done = sorted((t, p) for t, p in ((profile_total(p), p) for p in new) if t is not None)
        if done != last:
            last, stable_since = done, time.time()
        elif done and time.time() - stable_since >= 2:
            seen.update(p for _, p in done)
            return done[-1]
        time.sleep(0.5)
    sys.exit("no profile appeared for the pgbench backend")


def measure(cgdir, seen, out, name, script, options, nvar, n):
    path = os.path.join(out, f"{name}.sql")
    with open(path, "w") as f:
        f.write(f"\\set n random(1, {nvar})\n{script}\n")
    env = dict(os.environ)
    if options:
        env["PGOPTIONS"] = options
    bench.run(["pgbench", "-n", "-M", "prepared", "-c", "1", "-t", str(n), "-f", path, "bench"], env=env)
    return counted_backend(cgdir, seen)


def own_instructions(small, large, n):
    """Each function's own (exclusive) instructions per request: the
    difference of the two backends' profiles over n requests."""
    def own(path):
        p = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", path],
                           text=True, capture_output=True)
        d = {}
        for line in p.stdout.splitlines():
            m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+)", line)
            if m and "PROGRAM" not in line:
                fn = m[2].split(":", 1)[-1] if not m[2].startswith("???:0x") else m[2]
                d[fn] = d.get(fn, 0) + int(m[1].replace(",", ""))
        return d
    a, b = own(small), own(large)
    return {k: (b.get(k, 0) - a.get(k, 0)) / n for k in set(a) | set(b)}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sessions", type=int, default=100000)
    ap.add_argument("--small", type=int, default=200)
    ap.add_argument("--large", type=int, default=2200)
    ap.add_argument("--port", type=int, default=5489)
    args = ap.parse_args()
    if args.large <= args.small:
        ap.error("--large must exceed --small")
    i = sys.argv.index("--out")
    argv = sys.argv[1:i] + sys.argv[i + 2:]     # as given to bench/instructions

    # bench.py's throwaway server, smaller, stopped once the stores are loaded
    os.environ.pop("PGHOST", None)
    loader = bench.Server(args.out, args.port, [("shared_buffers", "512MB"),
                                                ("autovacuum", "off")])
    data = loader.data
    cgdir = os.path.join(loader.dir, "callgrind")
    os.mkdir(cgdir)
    try:
        version = bench.psql("SELECT version()", db="postgres")
        bench.log(f"loading {args.sessions} sessions into both stores")
        bench.setup_db("bench")
        bench.load(1, args.sessions)
    finally:
        loader.stop()

    bench.log("restarting the server under callgrind")
    with open(os.path.join(loader.dir, "server.log"), "a") as logf:
        server = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--trace-children=yes",
             f"--callgrind-out-file={cgdir}/cg.%p", "postgres", "-D", data],
            stdout=logf, stderr=subprocess.STDOUT)
    results = {}
    try:
        wait_ready(180)
        seen = set()
        for name, what, script, options, *around in SCRIPTS:
            if around:
                bench.psql(around[0])
                counted_backend(cgdir, seen)        # psql's own backend
            small = measure(cgdir, seen, args.out, name, script, options, args.sessions, args.small)
            large = measure(cgdir, seen, args.out, name, script, options, args.sessions, args.large)
            if around:
                bench.psql(around[1])
                counted_backend(cgdir, seen)
            per = (large[0] - small[0]) / (args.large - args.small)
            results[name] = (what, per, small[1], large[1])
            bench.log(f"  {name:12s} {per:9.0f} instructions a request")
    finally:
        subprocess.run(["pg_ctl", "-D", data, "-m", "fast", "-w", "stop"])
        server.wait()

    ceiling = results["ceiling"][1]
    lines = ["# Instructions per request (callgrind)", "",
             f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"- server: {version}",
             f"- command: `{' '.join(['bash bench/instructions'] + argv)}`",
             f"- sessions: {args.sessions} in each store; each figure is (instructions of a "
             f"backend serving {args.large} requests - those of one serving {args.small}) / "
             f"{args.large - args.small}, pgbench -M prepared, one client",
             "- the serving backend only (not pgbench, the kernel or the WAL writer); valgrind "
             "hides the CPU's SHA instructions from OpenSSL, so the token check counts "
             "several times what it costs on the bare CPU",
             "", "| script | instructions / request | against the ceiling |",
             "|---|---:|---:|"]
    for name, (what, per, _, _) in results.items():
        lines.append(f"| {what} | {per:.0f} | {per / ceiling:.2f}x |")
    n = args.large - args.small
    a = own_instructions(*results["ceiling"][2:], n)
    b = own_instructions(*results["get"][2:], n)
    rows = sorted(set(a) | set(b), key=lambda k: -(b.get(k, 0) - a.get(k, 0)))
    lines += ["", "Where `session_get` spends more than the ceiling, and less (each function's "
              "own instructions per request; `???` are functions of stripped libraries: "
              "libcrypto's SHA-256 block function is the largest):", "",
              "| function | ceiling | get | difference |", "|---|---:|---:|---:|"]
    for k in rows[:20] + rows[-8:]:
        lines.append(f"| `{k}` | {a.get(k, 0):.0f} | {b.get(k, 0):.0f} | "
                     f"{b.get(k, 0) - a.get(k, 0):+.0f} |")
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
