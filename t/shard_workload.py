"""A workload through the router for t/010_reshard.pl.

    python3 t/shard_workload.py CONNINFO STOPFILE THREADS TOKENFILE

Each thread has its own connection and loops: create a session, merge a
new counter value into one of its sessions, touch one of the sessions in
TOKENFILE (one token a line).  Errors are counted, and the connection made
again; a touch or merge that answers "invalid" for a session that exists
is a lost session.  Prints
"ready" once every thread has done a round; once STOPFILE exists each does
ROUNDS_AFTER more rounds, then one JSON line goes to stdout:
{"errors": n, "lost": [tokens], "sessions": {token: [acked, attempted]}}
where acked is the last counter value a merge returned and attempted the
last one sent.
"""

import json
import os
import random
import sys
import threading

import psycopg

ROUNDS_AFTER = 30


def main():
    conninfo, stopfile, nthreads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(sys.argv[4]) as f:
        given = [line.strip() for line in f if line.strip()]
    lock = threading.Lock()
    result = {"errors": 0, "lost": [], "sessions": {}}
    started = threading.Barrier(nthreads + 1)

    def worker(seed):
        rnd = random.Random(seed)
        mine = {}
        conn = None
        counter = 0
        first = True
        after = None
        while after is None or after < ROUNDS_AFTER:
            if after is not None:
                after += 1
            elif os.path.exists(stopfile):
                after = 0
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(conninfo, autocommit=True)
                tok = conn.execute("SELECT session_create('w', '{\"n\": 0}')").fetchone()[0]
                mine[tok] = [0, 0]
                counter += 1
                pick = rnd.choice(list(mine))
                mine[pick][1] = counter
                merged = conn.execute("SELECT session_merge(%s, %s)",
                                      (pick, json.dumps({"n": counter}))).fetchone()[0]
                if merged is None:
                    with lock:
                        result["lost"].append(pick)
                else:
                    mine[pick][0] = counter
                old = rnd.choice(given)
                if conn.execute("SELECT count(*) FROM session_touch(%s)", (old,)).fetchone()[0] != 1:
                    with lock:
                        result["lost"].append(old)
            except psycopg.Error:
                with lock:
                    result["errors"] += 1
                if conn is not None:
                    conn.close()
                conn = None
            if first:
                first = False
                started.wait()
        with lock:
            result["sessions"].update(mine)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(nthreads)]
    for t in threads:
        t.start()
    started.wait()
    print("ready", flush=True)
    for t in threads:
        t.join()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
