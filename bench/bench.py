#!/usr/bin/env python3
"""The session benchmark, driven by bench/run (see README, "Performance").

Measures the session extension against the statements express-session +
connect-pg-simple send to PostgreSQL, on the same server in the same run,
with pgbench -M prepared, the same clients and threads for both sides, the
sides alternated, and medians of --runs runs.

Every request names its session through the same one-row primary-key
lookup in bench.keys (pgbench cannot make random tokens).  The ceiling is
therefore that lookup plus a bare primary-key SELECT of the session's own
row (the columns session_touch returns, no check, no write): the least any
one-statement request for a session can cost here.  Workload 0, the lookup
alone, shows what the harness itself costs.
"""
import argparse
import datetime
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

# What express-session keeps in connect-pg-simple's sess column, and the
# same application data in ours (the cookie settings live in the cookie).
SESS = ('{"cookie": {"originalMaxAge": 2592000000, "expires": "2026-12-28T00:00:00.000Z", '
        '"secure": true, "httpOnly": true, "path": "/", "sameSite": "lax"}, '
        '"passport": {"user": 42}, "csrf": "Zb3kP9qX0tR7vW2yN5mL8cJ4"}')
DATA = '{"passport": {"user": 42}, "csrf": "Zb3kP9qX0tR7vW2yN5mL8cJ4"}'

KEY = "(SELECT {col} FROM bench.keys WHERE n = :n)"
TOKEN = KEY.format(col="token")
SID = KEY.format(col="sid")
ID_HASH = KEY.format(col="id_hash")

# workloads 9 and 10: users at a limit, and their sessions each
LIMIT_USERS, LIMIT = 1000, 10
BIG_USERS, BIG = 4, 10000

# workload id -> (title, session script, baseline script, env for session)
WORKLOADS = {
    1: ("request, rolling expiry (touch)",
        f"SELECT * FROM session_touch({TOKEN});",
        f"SELECT sess FROM bench.cps WHERE sid = {SID} AND expire >= now();\n"
        f"UPDATE bench.cps SET expire = now() + interval '30 days' WHERE sid = {SID} RETURNING sid;",
        {}),
    2: ("request, touch_interval = 0",
        f"SELECT * FROM session_touch({TOKEN});",
        f"SELECT sess FROM bench.cps WHERE sid = {SID} AND expire >= now();\n"
        f"UPDATE bench.cps SET expire = now() + interval '30 days' WHERE sid = {SID} RETURNING sid;",
        {"PGOPTIONS": "-c session.touch_interval=0"}),
    3: ("read-only validation (get)",
        f"SELECT * FROM session_get({TOKEN});",
        f"SELECT sess FROM bench.cps WHERE sid = {SID} AND expire >= now();",
        {}),
    4: ("create / save (upsert)",
        f"SELECT session_create('user' || :n, '{DATA}');",
        "INSERT INTO bench.cps (sess, expire, sid) "
        f"SELECT '{SESS}', now() + interval '30 days', md5(random()::text || :n) "
        "ON CONFLICT (sid) DO UPDATE SET sess = EXCLUDED.sess, expire = EXCLUDED.expire RETURNING sid;",
        {}),
    5: ("login: regenerate / delete + insert",
        "UPDATE bench.keys SET token = session_regenerate(token, 'user' || :n) WHERE n = :n;",
        f"DELETE FROM bench.cps WHERE sid = {SID};\n"
        "WITH k AS (UPDATE bench.keys SET sid = md5(random()::text || :n) WHERE n = :n RETURNING sid) "
        f"INSERT INTO bench.cps (sess, expire, sid) SELECT '{SESS}', now() + interval '30 days', sid FROM k "
        "ON CONFLICT (sid) DO UPDATE SET sess = EXCLUDED.sess, expire = EXCLUDED.expire RETURNING sid;",
        {}),
    # both sides are session's own, as the app role bench_app (no BYPASSRLS), in
    # one transaction each: the bound session read by a row-level security
    # policy, against the same rows found with the user id a touch returned
    8: ("bound RLS query: session_bind + the user's rows (policy)",
        "BEGIN;\n"
        f"SELECT user_id FROM session_bind({TOKEN});\n"
        "SELECT id, body FROM bench.notes;\n"
        "COMMIT;",
        "BEGIN;\n"
        f"SELECT user_id FROM session_touch({TOKEN});\n"
        "SELECT id, body FROM bench.notes_plain WHERE owner = 'user' || :n;\n"
        "COMMIT;",
        {"PGUSER": "bench_app"}),
    # both sides session's own: a login (session_create with a user id)
    # by a user at a limit of 10 live sessions, so that each login ends
    # the least recently used, against the same login of users without a
    # limit (other users, as many sessions each to begin with)
    9: ("login at the per-user limit (10 a user; each login ends the least recently used)",
        f"\\set u random(1, {LIMIT_USERS})\n"
        f"SELECT session_create('lim-a' || :u, '{DATA}');",
        f"\\set u random(1, {LIMIT_USERS})\n"
        f"SELECT session_create('lim-b' || :u, '{DATA}');",
        {"PGOPTIONS": f"-c session.max_sessions_per_user={LIMIT}"}),
    # the same with users of 10 000 live sessions each, at a limit of
    # 10 000
    10: ("login of a user with 10 000 sessions, at a limit of 10 000",
         f"\\set u random(1, {BIG_USERS})\n"
         f"SELECT session_create('big-a' || :u, '{DATA}');",
         f"\\set u random(1, {BIG_USERS})\n"
         f"SELECT session_create('big-b' || :u, '{DATA}');",
         {"PGOPTIONS": f"-c session.max_sessions_per_user={BIG}"}),
    7: ("ceiling: one primary-key SELECT of the session's row",
        "SELECT user_id, data, created_at, expires_at, absolute_expires_at "
        f"FROM session_internal.sessions WHERE id_hash = {ID_HASH};",
        None,
        {}),
    0: ("harness: the key lookup alone",
        "SELECT token FROM bench.keys WHERE n = :n;",
        None,
        {}),
}
WRITE_WORKLOADS = {1, 2, 4, 5}
# workloads whose two sides are both session's (its own table): what each
# side is, and the baseline side's env
SELF_COMPARED = {8: ("bound", "touch + WHERE", {"PGUSER": "bench_app"}),
                 9: ("at the limit", "no limit", {}),
                 10: ("at the limit", "no limit", {})}
NOTES_PER_USER = 10
# the ceiling (7) is measured as a third side of workload 1, alternated
# with it, so that drift in this machine's speed cannot skew their ratio
ORDER = [0, 3, 1, 2, 5, 4, 8, 9, 10]

SESSION_TABLE = "session_internal.sessions"
BASELINE_TABLE = "bench.cps"


def log(msg):
    print(f"[{datetime.datetime.now():%H:%M:%S}] {msg}", flush=True)


def run(cmd, env=None, check=True):
    p = subprocess.run(cmd, text=True, capture_output=True, env=env)
    if check and p.returncode != 0:
        sys.exit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    return p


PSQL = ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"]


def psql(sql, db="bench", env=None):
    return run(PSQL + ["-d", db, "-c", sql], env=env).stdout.strip()


class Session:
    """One psql connection kept open, asked one single-row query at a time."""

    def __init__(self, db):
        self.p = subprocess.Popen(PSQL + ["-d", db], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.ask("SELECT 1")

    def ask(self, sql):
        self.p.stdin.write(sql + ";\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            sys.exit(f"psql failed on: {sql}\n{self.p.stderr.read()}")
        return line.strip()

    def close(self):
        self.p.stdin.close()
        self.p.wait()


class Server:
    """A throwaway server, unless PGHOST names one."""

    def __init__(self, out, port, settings=()):
        self.own = not os.environ.get("PGHOST")
        if not self.own:
            if settings:
                sys.exit("--set applies to the throwaway server only, not to one PGHOST names")
            return
        self.dir = tempfile.mkdtemp(prefix="server.", dir=out)
        data = os.path.join(self.dir, "data")
        run(["initdb", "-N", "-A", "trust", "-E", "UTF8", "--locale=C", "-D", data])
        with open(os.path.join(data, "postgresql.conf"), "a") as f:
            f.write(f"""
listen_addresses = ''
unix_socket_directories = '{self.dir}'
port = {port}
shared_preload_libraries = 'session'
session.prune_interval = 0          # the worker must not prune mid-run
shared_buffers = '2GB'
max_wal_size = '16GB'
checkpoint_timeout = '30min'
max_connections = 100
""")
            for name, value in settings:
                f.write(f"{name} = '{value.replace(chr(39), chr(39) * 2)}'\n")
        run(["pg_ctl", "-D", data, "-l", os.path.join(self.dir, "server.log"), "-w", "start"])
        os.environ["PGHOST"] = self.dir
        os.environ["PGPORT"] = str(port)
        self.data = data

    def stop(self):
        if self.own:
            run(["pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop"], check=False)


def stride_of(nvar, active):
    """The active sessions are every stride-th of the nvar stored."""
    return max(nvar // (active or nvar), 1)


def pgbench(out, name, script, seconds, args, extra_env=None, db="bench", nvar=0, logprefix=None,
            active=None, rate=None):
    """Run a script; `active` sessions of the `nvar`, spread evenly, get requests."""
    path = os.path.join(out, f"{name}.sql")
    stride = stride_of(nvar, active)
    active = active or nvar
    # Each client draws from its own share of the sessions, as each user
    # sends their own requests: no two clients race for one session.
    share = max(active // args.clients, 1)
    with open(path, "w") as f:
        f.write(f"\\set n {stride} * (1 + :client_id + {args.clients} * random(0, {share - 1}))\n"
                f"{script}\n")
    env = dict(os.environ)
    env.update(extra_env or {})
    cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(args.clients), "-j", str(args.threads),
           "-T", str(seconds), "-f", path, db]
    if logprefix:
        cmd[1:1] = ["-l", "--log-prefix", logprefix]
    if rate:
        cmd[1:1] = ["-R", str(rate)]
    p = run(cmd, env=env)
    tps = float(re.search(r"tps = ([0-9.]+) \(without initial connection time\)", p.stdout).group(1))
    ntx = int(re.search(r"number of transactions actually processed: (\d+)", p.stdout).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", p.stdout)
    if failed and int(failed.group(1)) > 0:
        sys.exit(f"pgbench {name}: failed transactions\n{p.stdout}")
    return tps, ntx


def table_stats(table, db="bench"):
    row = psql(f"SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables "
               f"WHERE relid = '{table}'::regclass", db=db)
    upd, hot = row.split("|")
    return int(upd), int(hot)


def spread_last_writes(db="bench", stride=1):
    """Leave the active sessions (every stride-th) as continuous traffic
    would: each one's last write (expiry roll) somewhere in the last
    session.touch_interval.  A store that was just loaded, or left idle for
    a minute, would otherwise have every session due for a write at once."""
    psql("UPDATE session_internal.sessions s "
         "SET expires_at = now() + s.idle_timeout - random() * "
         "(current_setting('session.touch_interval')::interval) "
         f"FROM bench.keys k WHERE k.n % {stride} = 0 AND s.user_id = 'user' || k.n", db=db)
    psql("VACUUM session_internal.sessions", db=db)


# the keys4 side of workload 1: the same requests with this many signing keys
EXTRA_KEYS = 3


def measure(out, args, wid, side, nvar, active=None, db="bench"):
    """One pgbench run of one side ("session", "baseline" or, for workload
    1, "ceiling" and "keys4": the session side with EXTRA_KEYS more signing
    keys, as after rotations) of one workload."""
    title, ours, base, env = WORKLOADS[wid]
    script = {"session": ours, "keys4": ours, "baseline": base, "ceiling": WORKLOADS[7][1]}[side]
    table = BASELINE_TABLE if side == "baseline" and wid not in SELF_COMPARED else SESSION_TABLE
    if side in ("session", "keys4") and wid == 1:
        spread_last_writes(db=db, stride=stride_of(nvar, active))
    if side == "keys4":
        # newer keys than the one that signed the stored tokens: every
        # token check tries all of them, as in the weeks after rotations
        psql(f"SELECT session_rotate_key() FROM generate_series(1, {EXTRA_KEYS})", db=db)
    if wid in TRIMMED:
        # the no-limit side's users back to as many sessions as they began
        # with, so that the table is the same size for both sides' runs
        prefix, each = TRIMMED[wid]
        psql(f"DELETE FROM {SESSION_TABLE} WHERE id_hash IN (SELECT id_hash FROM "
             f"(SELECT id_hash, row_number() OVER (PARTITION BY user_id ORDER BY created_at) AS r "
             f"FROM {SESSION_TABLE} WHERE user_id LIKE '{prefix}%') x WHERE r > {each})", db=db)
    # every run starts from vacuumed tables, and no vacuum of what an
    # earlier run left behind can start in the middle of it (setup_db)
    psql(f"VACUUM bench.keys, {table}", db=db)
    lsn0 = psql("SELECT pg_current_wal_lsn()", db=db)
    upd0, hot0 = table_stats(table, db=db)
    tps, ntx = pgbench(out, f"w{wid}-{side}", script, args.seconds, args,
                       extra_env=(env if side in ("session", "keys4")
                                  else SELF_COMPARED[wid][2] if wid in SELF_COMPARED else {}),
                       db=db, nvar=nvar,
                       active=active)
    wal = int(psql(f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{lsn0}')", db=db))
    if side == "keys4":
        psql("DELETE FROM session_internal.keys WHERE id <> "
             "(SELECT id FROM session_internal.keys ORDER BY created_at LIMIT 1)", db=db)
    time.sleep(0.5)             # exiting backends flush their table stats
    upd1, hot1 = table_stats(table, db=db)
    return {"tps": tps, "ntx": ntx, "wal": wal / max(ntx, 1),
            "upd": upd1 - upd0, "hot": hot1 - hot0}


def load(first, last, db="bench", chunk=50000):
    for a in range(first, last + 1, chunk):
        b = min(a + chunk - 1, last)
        psql(f"INSERT INTO bench.keys (n, token, sid) "
             f"SELECT n, session_create('user' || n, '{DATA}'), md5(n::text || random()::text) "
             f"FROM generate_series({a}, {b}) n", db=db)
        # the stored form of the token's id (README, token format)
        psql("UPDATE bench.keys SET id_hash = "
             "sha256(convert_to(split_part(token, '.', 1), 'UTF8')) "
             f"WHERE n BETWEEN {a} AND {b}", db=db)
        psql(f"INSERT INTO bench.cps (sid, sess, expire) "
             f"SELECT sid, '{SESS}', now() + interval '30 days' FROM bench.keys "
             f"WHERE n BETWEEN {a} AND {b}", db=db)
    psql("VACUUM ANALYZE bench.keys, bench.cps, session_internal.sessions", db=db)
    psql("CHECKPOINT", db=db)


def load_notes(nvar, db="bench"):
    """Workload 8's tables: NOTES_PER_USER rows for each of the nvar users,
    in bench.notes (row-level security, a policy on the bound session's user)
    and the same rows in bench.notes_plain (none), each indexed on owner."""
    psql(f"""CREATE TABLE bench.notes (id bigint PRIMARY KEY, owner text NOT NULL, body text NOT NULL);
INSERT INTO bench.notes SELECT i, 'user' || (1 + i % {nvar}), 'note ' || i
    FROM generate_series(0, {nvar * NOTES_PER_USER - 1}) i;
CREATE INDEX ON bench.notes (owner);
CREATE TABLE bench.notes_plain (LIKE bench.notes INCLUDING ALL);
INSERT INTO bench.notes_plain SELECT * FROM bench.notes;
ALTER TABLE bench.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON bench.notes USING (owner = session_bound_user());
DO $$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bench_app') THEN
        CREATE ROLE bench_app LOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA bench TO bench_app;
GRANT SELECT ON bench.keys, bench.notes, bench.notes_plain TO bench_app;
GRANT EXECUTE ON FUNCTION session_bind(text), session_bound_user(), session_touch(text) TO bench_app;""", db=db)
    psql("VACUUM ANALYZE bench.notes, bench.notes_plain", db=db)
    # the policy's comparison is an index condition, as the WHERE's is
    plan = psql("SET ROLE bench_app; EXPLAIN (COSTS OFF) SELECT id, body FROM bench.notes", db=db)
    if "Index" not in plan:
        sys.exit(f"workload 8: the policy's query does not use the owner index:\n{plan}")


def load_users(prefixes, users, each, db="bench"):
    """Workloads 9 and 10: each sessions for each of users users under each
    prefix ('lim-a' || 1, ...), made with session_create."""
    for prefix in prefixes:
        psql(f"SELECT count(session_create('{prefix}' || (1 + i % {users}), '{DATA}')) "
             f"FROM generate_series(0, {users * each - 1}) i", db=db)
    psql(f"VACUUM ANALYZE {SESSION_TABLE}", db=db)


# workloads whose no-limit side is trimmed back before each run: (the
# prefix of its users, their sessions each)
TRIMMED = {9: ("lim-b", LIMIT), 10: ("big-b", BIG)}

LOADERS = {
    8: load_notes,
    9: lambda nvar: load_users(("lim-a", "lim-b"), LIMIT_USERS, LIMIT),
    10: lambda nvar: load_users(("big-a", "big-b"), BIG_USERS, BIG),
}


def setup_db(db):
    psql(f"DROP DATABASE IF EXISTS {db}", db="postgres")
    psql(f"CREATE DATABASE {db}", db="postgres")
    psql("CREATE EXTENSION session", db=db)
    psql("""CREATE SCHEMA bench;
CREATE TABLE bench.keys (n int PRIMARY KEY, token text NOT NULL, sid text NOT NULL, id_hash bytea);
-- connect-pg-simple's table, as its table.sql makes it
CREATE TABLE bench.cps (
    sid varchar NOT NULL COLLATE "default",
    sess json NOT NULL,
    expire timestamp(6) NOT NULL
);
ALTER TABLE bench.cps ADD CONSTRAINT session_pkey PRIMARY KEY (sid) NOT DEFERRABLE INITIALLY IMMEDIATE;
CREATE INDEX "IDX_session_expire" ON bench.cps (expire);
-- The runs vacuum explicitly before they start (measure, prune_phase):
-- autovacuum, started by the dead rows of one run, would otherwise land in
-- the middle of a later run of either store (seen: 2-12 s vacuums of the
-- other store's table inside workload 6's measured windows).
ALTER TABLE bench.keys SET (autovacuum_enabled = off);
ALTER TABLE bench.cps SET (autovacuum_enabled = off);
ALTER TABLE session_internal.sessions SET (autovacuum_enabled = off);""", db=db)


def suite(out, args, nvar, workloads, active=None):
    results = {}
    for wid in workloads:
        sides = ["session"] + (["baseline"] if WORKLOADS[wid][2] else [])
        if wid in SELF_COMPARED:
            LOADERS[wid](nvar)
        if wid == 1:
            # both next to the session side in both orders: their ratios
            # with it are targets
            sides = ["ceiling", "session", "keys4"] + sides[1:]
        runs = {s: [] for s in sides}
        for r in range(args.runs):
            order = sides if r % 2 == 0 else list(reversed(sides))
            for side in order:
                m = measure(out, args, wid, side, nvar, active)
                runs[side].append(m)
                log(f"  w{wid} {side:8s} run {r + 1}: {m['tps']:9.0f} req/s, "
                    f"{m['wal']:7.1f} WAL B/req, HOT {m['hot']}/{m['upd']}")
        results[wid] = runs
    return results


def trim_keys(db, stride):
    """Keep in bench.keys only the keys requests use (every stride-th),
    compacted: the harness's own lookup then costs what it costs in the
    smaller store, and only the session stores differ in size."""
    psql(f"DELETE FROM bench.keys WHERE n % {stride} <> 0", db=db)
    psql("VACUUM FULL ANALYZE bench.keys", db=db)


def scale_suite(out, args, n_small, n_large):
    """Workload 1 and the ceiling on the n_small-session store ("bench") and
    on an n_large one ("bench_scale") with the same active set, the two
    stores alternated run by run so that drift in the machine's speed cannot
    skew the ratio.  The ceiling's own ratio shows what growing the store
    costs a bare primary-key SELECT on this machine."""
    stores = [("bench", n_small, None), ("bench_scale", n_large, n_small)]
    sides = ["session", "ceiling", "baseline"]
    runs = {db: {side: [] for side in sides} for db, _, _ in stores}
    for r in range(args.runs):
        for db, nvar, active in (stores if r % 2 == 0 else list(reversed(stores))):
            for side in (sides if r % 2 == 0 else list(reversed(sides))):
                m = measure(out, args, 1, side, nvar, active, db=db)
                runs[db][side].append(m)
                log(f"  w1 {db:11s} {side:8s} run {r + 1}: {m['tps']:9.0f} req/s, "
                    f"{m['wal']:7.1f} WAL B/req")
    return runs


def summarize(runs):
    s = {"tps": statistics.median(m["tps"] for m in runs),
         "wal": statistics.median(m["wal"] for m in runs)}
    upd = sum(m["upd"] for m in runs)
    s["hot"] = (100.0 * sum(m["hot"] for m in runs) / upd) if upd else None
    return s


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(round(p / 100.0 * len(values) + 0.5)) - 1))
    return values[k]


def requests_around(out, args, db, side, r, script, live, seconds, query):
    """`script` at args.prune_rate requests/s for `seconds`; `query` is sent
    args.prune_before s in.  Returns its answer, how long it took, the WAL
    bytes written meanwhile (the requests' included), and the latencies
    of the requests that ran wholly in the args.prune_before - 1 s before it
    and wholly while it ran."""
    prefix = os.path.join(out, f"prune-{side}-{r}")
    # connected before the requests start, so that starting a psql
    # and a backend is not counted as part of the query
    conn = Session(db)
    t = threading.Thread(target=pgbench, args=(out, f"w6-{side}", script, seconds, args),
                         kwargs={"db": db, "nvar": live, "logprefix": prefix,
                                 "rate": args.prune_rate})
    t.start()
    time.sleep(args.prune_before)
    lsn0 = conn.ask("SELECT pg_current_wal_lsn()")
    p0 = time.time()
    answer = conn.ask(query)
    p1 = time.time()
    wal = int(conn.ask(f"SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{lsn0}')"))
    conn.close()
    t.join()

    before, during = [], []
    for fn in os.listdir(out):
        if not fn.startswith(os.path.basename(prefix) + "."):
            continue
        with open(os.path.join(out, fn)) as f:
            for line in f:
                c = line.split()
                # with -R, what a client sees includes the wait to start
                lat = int(c[2]) + (int(c[6]) if len(c) > 6 else 0)
                end = int(c[4]) + int(c[5]) / 1e6
                start = end - lat / 1e6
                if 1.0 <= start - (p0 - args.prune_before) and end < p0:
                    before.append(lat)
                elif start >= p0 and end <= p1:
                    during.append(lat)
        os.unlink(os.path.join(out, fn))
    return answer, p1 - p0, wal, before, during


def prune_phase(out, args, live, expired):
    """Workload 6: prune `expired` of live+expired sessions while requests run.

    After each session-side prune the same measurement runs once more with
    no prune, only a pg_sleep as long as that prune took: what the p99
    ratio reads when nothing happens, the noise floor of the statistic on
    the machine at hand."""
    db = "bench_prune"
    setup_db(db)
    log(f"prune: loading {live} live sessions into both stores")
    load(1, live, db=db)
    title, touch_session, touch_base, _ = WORKLOADS[1]
    runs = {"session": [], "baseline": [], "none": []}

    def record(side, r, deleted, seconds, wal, before, during):
        m = {"deleted": deleted, "seconds": seconds, "rows_per_s": deleted / seconds, "wal": wal,
             "p99_before": percentile(before, 99), "p99_during": percentile(during, 99),
             "n_before": len(before), "n_during": len(during)}
        runs[side].append(m)
        log(f"  w6 {side:8s} run {r + 1}: {m['deleted']} rows in {m['seconds']:.2f} s "
            f"({m['rows_per_s']:.0f} rows/s, {m['wal'] / 1e6:.1f} MB of WAL), p99 {fmt_ms(m['p99_before'])} before, "
            f"{fmt_ms(m['p99_during'])} during")
        return m

    for r in range(args.runs):
        for side in (["session", "baseline"] if r % 2 == 0 else ["baseline", "session"]):
            if side == "session":
                spread_last_writes(db)
                psql(f"INSERT INTO session_internal.sessions (id_hash, key_id, user_id, data, "
                     f"created_at, expires_at, idle_timeout) "
                     f"SELECT sha256(convert_to('x' || i || random(), 'UTF8')), 0, 'gone', '{DATA}', "
                     f"now() - interval '8 days', now() - interval '1 day', interval '7 days' "
                     f"FROM generate_series(1, {expired}) i", db=db)
                psql("VACUUM ANALYZE session_internal.sessions", db=db)
                prune_sql, script = "SELECT session_prune()", touch_session
            else:
                psql(f"INSERT INTO bench.cps (sid, sess, expire) "
                     f"SELECT md5('x' || i || random()), '{SESS}', now() - interval '1 day' "
                     f"FROM generate_series(1, {expired}) i", db=db)
                psql("VACUUM ANALYZE bench.cps", db=db)
                prune_sql = "WITH d AS (DELETE FROM bench.cps WHERE expire < now() RETURNING 1) " \
                            "SELECT count(*) FROM d"
                script = touch_base
            psql("CHECKPOINT", db=db)
            deleted, seconds, wal, before, during = requests_around(
                out, args, db, side, r, script, live, args.prune_window, prune_sql)
            # the next round of either store starts without this prune's
            # dead rows, as the first did (autovacuum is off: setup_db)
            psql(f"VACUUM {SESSION_TABLE if side == 'session' else BASELINE_TABLE}", db=db)
            m = record(side, r, int(deleted), seconds, wal, before, during)
            if side == "session":
                psql("CHECKPOINT", db=db)
                _, seconds, wal, before, during = requests_around(
                    out, args, db, "none", r, script, live,
                    math.ceil(args.prune_before + m["seconds"] + 1),
                    f"SELECT 0 FROM pg_sleep({m['seconds']:.3f})")
                record("none", r, 0, seconds, wal, before, during)
    psql(f"DROP DATABASE {db}", db="postgres")
    return runs


def fmt_ms(us):
    return "n/a" if us is None else f"{us / 1000:.2f} ms"


def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), {mem:.0f} GiB"


PRUNE_SIDES = (("session", "session: session_prune()"), ("baseline", "baseline: one DELETE"),
               ("none", "none: no prune, pg_sleep instead"))


def per_run(a, b):
    """Run i of a over run i of b (measured in the same round), listed."""
    return ", ".join(f"{x['tps'] / y['tps']:.2f}x" for x, y in zip(a, b) if y["tps"])


def p99_ratios(runs):
    """Each run's p99 during over its own p99 before."""
    return [x["p99_during"] / x["p99_before"] for x in runs if x["p99_before"] and x["p99_during"]]


def report(out, args, results, scale, prune, nvar):
    s = {wid: {side: summarize(r) for side, r in runs.items()} for wid, runs in results.items()}
    if scale:
        # medians of the larger store's runs and of the smaller one's beside them
        sc = {side: summarize(r) for side, r in scale["runs"].items()}
        small = {side: summarize(r) for side, r in scale["small"].items()}
    lines = []
    lines.append("# session vs connect-pg-simple")
    lines.append("")
    lines.append(f"- date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC")
    lines.append(f"- machine: {machine()}")
    lines.append(f"- server: {psql('SELECT version()')}")
    lines.append(f"- command: `{' '.join(['bash', 'bench/run'] + args.argv)}`")
    if args.settings:
        lines.append("- server settings added with --set: " +
                     ", ".join(f"`{n} = {v}`" for n, v in args.settings))
    lines.append(f"- sessions: {nvar} in each store; pgbench -M prepared -c {args.clients} "
                 f"-j {args.threads} -T {args.seconds}, {args.runs} runs per side alternated, medians")
    lines.append("- every request finds its key with the same one-row lookup in bench.keys (pgbench "
                 "cannot make tokens); the ceiling (7) is that lookup plus a bare primary-key SELECT "
                 "of the session's own row, and workload 0 is the lookup alone")
    lines.append("- before each session-side run of workload 1 the sessions' last expiry writes are "
                 "spread over the last session.touch_interval (60 s), as continuous traffic leaves "
                 "them; otherwise a store loaded in one go has every session due for a write at once")
    lines.append("- autovacuum is off for the stores' tables: every run starts right after a VACUUM "
                 "of the tables it uses, so that no vacuum of an earlier run's dead rows lands in it")
    if scale:
        lines.append(f"- the {scale['n']}-session row sends requests to {scale['active']} sessions "
                     f"spread evenly through the store, the same active set as the "
                     f"{nvar}-session rows, and bench.keys there holds only those "
                     f"{scale['active']} keys, so only the store's size differs; it and the "
                     f"{nvar}-session figures it is compared with come from workload 1 and "
                     f"ceiling runs alternated between the two stores (medians: {nvar} stored, "
                     f"session {small['session']['tps']:.0f} req/s, ceiling "
                     f"{small['ceiling']['tps']:.0f} req/s, baseline "
                     f"{small['baseline']['tps']:.0f} req/s)")
    if prune:
        lines.append(f"- workload 6 offers {args.prune_rate} requests/s (pgbench -R); latency "
                     f"includes the wait to start; its WAL column counts from just before the "
                     f"prune to just after it, the requests' own included (the none row "
                     f"shows how much: their first writes to a page after the checkpoint "
                     f"log its image too); "
                     f"session_prune() compresses its full-page images with lz4 "
                     f"(session.prune_wal_compression, on by default), the DELETE's are as "
                     f"the server's wal_compression says "
                     f"({psql('SHOW wal_compression', db='postgres')})")
    lines.append("")
    lines.append("| # | workload | session req/s | baseline req/s | ratio | WAL B/req session | "
                 "WAL B/req baseline | HOT session | HOT baseline |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for wid in ORDER:
        if wid not in s or wid in SELF_COMPARED:
            continue
        if wid == 1 and "ceiling" in s[1]:
            lines.append(f"| 7 | {WORKLOADS[7][0]} (alternated with workload 1) | "
                         f"{s[1]['ceiling']['tps']:.0f} | — | — | — | — | — | — |")
        if wid == 1 and "keys4" in s[1]:
            lines.append(f"| 1 | {WORKLOADS[1][0]}, {1 + EXTRA_KEYS} signing keys "
                         f"(alternated with workload 1) | {s[1]['keys4']['tps']:.0f} | — | — | "
                         f"— | — | — | — |")
        ours = s[wid]["session"]
        base = s[wid].get("baseline")
        write = wid in WRITE_WORKLOADS and base is not None
        cells = [str(wid), WORKLOADS[wid][0], f"{ours['tps']:.0f}",
                 f"{base['tps']:.0f}" if base else "—",
                 f"{ours['tps'] / base['tps']:.2f}x" if base else "—",
                 f"{ours['wal']:.0f}" if write else "—",
                 f"{base['wal']:.0f}" if write else "—",
                 f"{fmt(ours['hot'], '.0f')}%" if write and ours["hot"] is not None else "—",
                 f"{fmt(base['hot'], '.0f')}%" if write and base["hot"] is not None else "—"]
        lines.append("| " + " | ".join(cells) + " |")
    if scale:
        lines.append(f"| 1 | request, rolling expiry, {scale['n']} stored, {scale['active']} active | "
                     f"{sc['session']['tps']:.0f} | "
                     f"{sc['baseline']['tps']:.0f} | {sc['session']['tps'] / sc['baseline']['tps']:.2f}x | "
                     f"{sc['session']['wal']:.0f} | {sc['baseline']['wal']:.0f} | — | — |")
        lines.append(f"| 7 | ceiling, {scale['n']} stored, {scale['active']} active | "
                     f"{sc['ceiling']['tps']:.0f} | — | — | — | — | — | — |")
    own = [wid for wid in ORDER if wid in s and wid in SELF_COMPARED]
    if own:
        lines.append("")
        how = {
            8: "both sides as the role bench_app, without BYPASSRLS; "
               f"{NOTES_PER_USER} rows per user in each table, {nvar * NOTES_PER_USER} in all, "
               "an index on owner; each side BEGIN, its two statements, COMMIT.",
            9: f"{LIMIT_USERS} users on each side with {LIMIT} sessions each to begin with; "
               f"a random one of them logs in (session_create), with session.max_sessions_per_user = {LIMIT} "
               f"on side A (so each login ends one) and none on side B (other users, trimmed back to "
               f"{LIMIT} each before every run, so that both sides run on a table of one size).",
            10: f"the same with {BIG_USERS} users of {BIG} sessions each, at a limit of {BIG}.",
        }
        lines.append("session against itself. " + " ".join(f"{w}: {how[w]}" for w in own))
        lines.append("")
        lines.append("| # | workload | A | A req/s | B | B req/s | A vs B (run by run) |")
        lines.append("|---|---|---|---:|---|---:|---:|")
        for wid in own:
            a, b, _ = SELF_COMPARED[wid]
            lines.append(f"| {wid} | {WORKLOADS[wid][0]} | {a} | {s[wid]['session']['tps']:.0f} | {b} | "
                         f"{s[wid]['baseline']['tps']:.0f} | "
                         f"{s[wid]['session']['tps'] / s[wid]['baseline']['tps']:.2f}x "
                         f"({per_run(results[wid]['session'], results[wid]['baseline'])}) |")
    if prune:
        lines.append("")
        lines.append(f"Workload 6, prune of {prune['expired']} expired among "
                     f"{prune['expired'] + prune['live']} sessions while workload 1 runs "
                     f"(medians of {args.runs} runs; p99 of the requests that ran wholly during "
                     f"the prune against those of the {args.prune_before - 1:.0f} s before it):")
        lines.append("")
        lines.append("| store | rows/s | prune time | WAL | request p99 before | request p99 during |")
        lines.append("|---|---:|---:|---:|---:|---:|")
        for side, label in PRUNE_SIDES:
            r = prune["runs"][side]
            med = lambda k: statistics.median(x[k] for x in r if x[k] is not None) \
                if any(x[k] is not None for x in r) else None
            rows = "—" if side == "none" else f"{med('rows_per_s'):.0f}"
            lines.append(f"| {label} | {rows} | {med('seconds'):.2f} s | {med('wal') / 1e6:.1f} MB | "
                         f"{fmt_ms(med('p99_before'))} | {fmt_ms(med('p99_during'))} |")
        lines.append("")
        for side, _ in PRUNE_SIDES:
            lines.append(f"- {side}, each run's p99 before / during: " + ", ".join(
                f"{fmt_ms(x['p99_before'])} / {fmt_ms(x['p99_during'])} "
                f"({x['n_before']} / {x['n_during']} requests)" for x in prune["runs"][side]))
        pn = p99_ratios(prune["runs"]["none"])
        if pn:
            lines.append(f"- with no prune (the \"none\" row: a `pg_sleep` as long as the session "
                         f"run's prune, measured right after it) the p99 ratio reads "
                         f"{statistics.median(pn):.2f}x ({', '.join(f'{x:.2f}x' for x in pn)}): "
                         f"what this machine's own variation gives the statistic")

    # targets
    t = []

    def target(name, value, goal, ok):
        # a smoke run's sizes and seconds are too small for its figures to mean anything
        verdict = "(smoke run: not a measurement)" if args.smoke else ("hit" if ok else "missed")
        t.append(f"| {name} | {value} | {goal} | {verdict} |")

    def ratio(a, b):
        return a / b if b else None

    if 1 in s:
        r = ratio(s[1]["session"]["tps"], s[1]["baseline"]["tps"])
        target("req/s, workload 1 vs get + touch", f"{r:.2f}x", "≥ 4x", r >= 4)
        r = ratio(s[1]["session"]["tps"], s[1]["ceiling"]["tps"])
        target("req/s, workload 1 vs the ceiling (7) (run by run)",
               f"{r:.2f}x ({per_run(results[1]['session'], results[1]['ceiling'])})",
               "≥ 0.85x", r >= 0.85)
        r = ratio(s[1]["session"]["wal"], s[1]["baseline"]["wal"])
        target("WAL B/req, workload 1", f"{100 * r:.1f}% of baseline", "≤ 5%", r <= 0.05)
        if "keys4" in s[1]:
            r = ratio(s[1]["keys4"]["tps"], s[1]["session"]["tps"])
            target(f"req/s, workload 1 with {1 + EXTRA_KEYS} signing keys vs 1 (run by run)",
                   f"{r:.2f}x ({per_run(results[1]['keys4'], results[1]['session'])})",
                   "≥ 0.95x", r >= 0.95)
    if 2 in s:
        r = ratio(s[2]["session"]["tps"], s[2]["baseline"]["tps"])
        target("req/s, workload 2 vs get + touch", f"{r:.2f}x", "≥ 1.3x", r >= 1.3)
        h = s[2]["session"]["hot"]
        target("HOT share, workload 2", f"{fmt(h, '.1f')}% (baseline {fmt(s[2]['baseline']['hot'], '.1f')}%)",
               "≥ 95%", h is not None and h >= 95)
        r = ratio(s[2]["session"]["wal"], s[2]["baseline"]["wal"])
        target("WAL B/req, workload 2", f"{100 * r:.1f}% of baseline", "≤ 50%", r <= 0.5)
    if 4 in s:
        r = ratio(s[4]["session"]["tps"], s[4]["baseline"]["tps"])
        target("session_create vs the upsert", f"{r:.2f}x", "≥ 1.0x", r >= 1.0)
    if 8 in s:
        r = ratio(s[8]["session"]["tps"], s[8]["baseline"]["tps"])
        target("req/s, workload 8: bound RLS query vs touch + WHERE (run by run)",
               f"{r:.2f}x ({per_run(results[8]['session'], results[8]['baseline'])})", "≥ 0.9x", r >= 0.9)
    for wid, what in ((9, "login at the per-user limit vs no limit"),
                      (10, "login at a limit of 10 000 with 10 000 sessions vs no limit")):
        if wid in s:
            r = ratio(s[wid]["session"]["tps"], s[wid]["baseline"]["tps"])
            target(f"req/s, workload {wid}: {what} (run by run)",
                   f"{r:.2f}x ({per_run(results[wid]['session'], results[wid]['baseline'])})", "≥ 0.9x", r >= 0.9)
    if prune:
        rs = statistics.median(x["rows_per_s"] for x in prune["runs"]["session"])
        rb = statistics.median(x["rows_per_s"] for x in prune["runs"]["baseline"])
        # each run's during against its own before, as the other ratios
        # compare only measurements made side by side
        pr = p99_ratios(prune["runs"]["session"])
        p99_ratio = statistics.median(pr) if pr else None
        target("prune rows/s vs the single DELETE", f"{rs / rb:.2f}x", "≥ 0.5x", rs / rb >= 0.5)
        target("request p99 during session_prune vs before (median of the runs' ratios)",
               f"{fmt(p99_ratio, '.2f')}x ({', '.join(f'{x:.2f}x' for x in pr)})", "≤ 2x",
               p99_ratio is not None and p99_ratio <= 2)
    if scale and 1 in s:
        r = ratio(sc["session"]["tps"], small["session"]["tps"])
        c = ratio(sc["ceiling"]["tps"], small["ceiling"]["tps"])
        target(f"workload 1 at {scale['n']} vs {nvar} sessions (run by run; the ceiling's own)",
               f"{r:.2f}x ({per_run(scale['runs']['session'], scale['small']['session'])}; "
               f"ceiling {c:.2f}x)", "≥ 0.9x", r >= 0.9)
    if t:
        lines.append("")
        lines.append("| target | measured | goal | |")
        lines.append("|---|---|---|---|")
        lines.extend(t)

    text = "\n".join(lines) + "\n"
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(text)
    print(text)
    chart(out, s, scale)


def chart(out, s, scale):
    if not any(wid not in SELF_COMPARED for wid in s):
        return
    if not shutil.which("gnuplot"):
        log("gnuplot not found: no chart")
        return
    dat = os.path.join(out, "chart.dat")
    with open(dat, "w") as f:
        if 1 in s and "ceiling" in s[1]:
            f.write(f"\"7: {WORKLOADS[7][0]}\"\t{s[1]['ceiling']['tps']:.0f}\t0\n")
        for wid in ORDER:
            if wid in s and wid not in SELF_COMPARED:
                base = s[wid].get("baseline")
                f.write(f"\"{wid}: {WORKLOADS[wid][0]}\"\t{s[wid]['session']['tps']:.0f}\t"
                        f"{base['tps'] if base else 0:.0f}\n")
        if scale:
            sc = {side: summarize(r) for side, r in scale["runs"].items()}
            f.write(f"\"1 at {scale['n']} stored\"\t{sc['session']['tps']:.0f}\t"
                    f"{sc['baseline']['tps']:.0f}\n")
    gp = f"""
set terminal pngcairo size 1200,600 font ",10" noenhanced
set output "{os.path.join(out, 'chart.png')}"
set title "requests per second: session vs express-session + connect-pg-simple statements"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set ylabel "requests/s (higher is better)"
set xtics rotate by -20 scale 0
set grid ytics
set key top right
set yrange [0:*]
plot "{dat}" using 2:xtic(1) title "session", "" using 3 title "connect-pg-simple"
"""
    subprocess.run(["gnuplot"], input=gp, text=True, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sessions", type=int, default=100000)
    ap.add_argument("--scale-sessions", type=int, default=1000000,
                    help="workload 1 again at this many sessions (0: skip)")
    ap.add_argument("--prune-live", type=int, default=500000)
    ap.add_argument("--prune-expired", type=int, default=500000)
    ap.add_argument("--prune-before", type=float, default=5.0)
    ap.add_argument("--prune-window", type=int, default=30)
    ap.add_argument("--prune-rate", type=int, default=2000,
                    help="requests/s offered during workload 6 (pgbench -R)")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--runs", type=int, default=5,
                    help="runs per side, alternated; medians are reported (default 5: this VM drifts)")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--port", type=int, default=5488)
    ap.add_argument("--only", default=None,
                    help="comma-separated workload numbers to run, e.g. 1,6; the ceiling (7) "
                         "runs with workload 1 (default: all)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a setting for the throwaway server, added to its postgresql.conf "
                         "(repeatable; named in the report)")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny sizes and 1-second runs: proves the harness works")
    args = ap.parse_args()
    args.settings = []
    for item in args.set:
        name, eq, value = item.partition("=")
        if not eq or not re.fullmatch(r"[a-z_][a-z0-9_.]*", name):
            ap.error(f"--set wants NAME=VALUE, got {item!r}")
        args.settings.append((name, value))
    i = sys.argv.index("--out")
    args.argv = sys.argv[1:i] + sys.argv[i + 2:]     # as given to bench/run
    if args.smoke:
        args.sessions, args.scale_sessions = 1000, 2000
        args.prune_live, args.prune_expired = 1000, 2000
        args.prune_before, args.prune_window, args.prune_rate = 1.0, 3, 200
        args.seconds, args.runs = 1, 1

    server = Server(args.out, args.port, args.settings)
    try:
        order, wanted = ORDER, set(ORDER) | {6}
        if args.only:
            wanted = {int(w) for w in args.only.split(",")}
            order = [w for w in ORDER if w in wanted]
        setup_db("bench")
        if order:
            log(f"loading {args.sessions} sessions into both stores")
            load(1, args.sessions)
        # the scale figure compares with this store as workload 1 left it,
        # before workloads 4 and 5 add or replace sessions
        results = suite(args.out, args, args.sessions, [w for w in order if w not in (4, 5)])
        scale = None
        if args.scale_sessions > args.sessions and 1 in order:
            log(f"loading {args.scale_sessions} sessions into a second database for the scale figure")
            setup_db("bench_scale")
            load(1, args.scale_sessions, db="bench_scale")
            trim_keys("bench_scale", stride_of(args.scale_sessions, args.sessions))
            runs = scale_suite(args.out, args, args.sessions, args.scale_sessions)
            psql("DROP DATABASE bench_scale", db="postgres")
            scale = {"n": args.scale_sessions, "active": args.sessions,
                     "runs": runs["bench_scale"], "small": runs["bench"]}
        results.update(suite(args.out, args, args.sessions, [w for w in order if w in (4, 5)]))
        prune = None
        if args.prune_expired > 0 and 6 in wanted:
            prune = {"live": args.prune_live, "expired": args.prune_expired,
                     "runs": prune_phase(args.out, args, args.prune_live, args.prune_expired)}
        report(args.out, args, results, scale, prune, args.sessions)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
