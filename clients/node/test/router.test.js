'use strict';
// The middleware connected to a session_proxy router (PL/Proxy) in front of
// two shard databases on two servers, as docs/operations.md sets one up:
// each call its own statement, each session on the shard its token names,
// and with one shard's server stopped (before a request, or in the middle
// of one) only that shard's requests fail, with 08006, and no write is
// applied twice.  Skipped where PL/Proxy is not installed.
const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const request = require('supertest');
const express = require('express');
const { TestServer, bindir, REQUEST_FUNCTIONS, REQUEST_FUNCTIONS_1_4 } = require('./server');
const { recording, batchApp } = require('./batches');
const session = require('..');

const sharedir = execFileSync(path.join(bindir(), 'pg_config'), ['--sharedir'], { encoding: 'utf8' }).trim();
const skip = fs.existsSync(path.join(sharedir, 'extension', 'plproxy.control'))
  ? false : 'PL/Proxy is not installed';

describe('through a session_proxy router', { skip }, () => {
  // shard 0 and the router on one server, shard 1 on another, so that it can be stopped
  let server;
  let other;
  const shardServer = (k) => (k === 0 ? server : other);
  before(() => {
    server = new TestServer().start();
    other = new TestServer().start();
    for (const k of [0, 1]) {
      const s = shardServer(k);
      s.psql('CREATE ROLE session_router LOGIN');
      s.psql(`CREATE DATABASE sessions_${k}`);
      s.psql(`CREATE EXTENSION session;
        ALTER DATABASE sessions_${k} SET session.shards = 2;
        ALTER DATABASE sessions_${k} SET session.shard = ${k};
        GRANT EXECUTE ON FUNCTION ${REQUEST_FUNCTIONS} TO session_router`, `sessions_${k}`);
    }
    // shard 0 counts the writes of session data it is sent (a DBA's ordinary audit trigger)
    server.psql(`CREATE TABLE public.data_writes (at timestamptz DEFAULT now());
      GRANT INSERT ON public.data_writes TO session_router;
      CREATE FUNCTION public.count_data_write() RETURNS trigger LANGUAGE plpgsql AS
        $$BEGIN INSERT INTO public.data_writes DEFAULT VALUES; RETURN NULL; END$$;
      CREATE TRIGGER count_data_write AFTER UPDATE ON session_internal.sessions FOR EACH ROW
        WHEN (OLD.data IS DISTINCT FROM NEW.data) EXECUTE FUNCTION public.count_data_write()`, 'sessions_0');
    server.psql('CREATE DATABASE router');
    const shard = (k) => `'dbname=sessions_${k} host=${shardServer(k).dir} port=${shardServer(k).port}'`;
    server.psql(`CREATE EXTENSION plproxy;
      CREATE EXTENSION session_proxy;
      CREATE SERVER session_shards FOREIGN DATA WRAPPER plproxy OPTIONS (p0 ${shard(0)}, p1 ${shard(1)});
      CREATE USER MAPPING FOR app SERVER session_shards OPTIONS (user 'session_router');
      GRANT USAGE ON FOREIGN SERVER session_shards TO app;
      GRANT USAGE ON SCHEMA session_proxy_internal TO app;
      GRANT EXECUTE ON FUNCTION ${REQUEST_FUNCTIONS_1_4},
        session_proxy_internal.shard_count(), session_proxy_internal.unreachable(text, text, text, integer),
        session_proxy_internal.touch(text), session_proxy_internal.get(text),
        session_proxy_internal.regenerate(text, text), session_proxy_internal.set(text, jsonb),
        session_proxy_internal.merge(text, jsonb), session_proxy_internal.merge(text, jsonb, text[]),
        session_proxy_internal.set_idle_timeout(text, interval), session_proxy_internal.destroy(text),
        session_proxy_internal.destroy_user(text, text), session_proxy_internal.list(text),
        session_proxy_internal.create_on(integer, text, jsonb, interval, interval) TO app`,
    'router');
  });
  after(async () => {
    if (other) await other.stop();
    if (server) await server.stop();
  });

  // each test's router connections (and the router's own to shard 0 on the same server) end with it:
  // a frozen shard's leave the server short of connection slots otherwise
  afterEach(() => server.endPools());

  const home = (t) => Number(server.psql(`SELECT session_shard_hash('${t}') & 1`, 'router'));
  const tokenOf = (r) => /^sid=([^;]+);/.exec(r.headers['set-cookie'][0])[1];

  it('sends each call alone, each session on the shard its token names', async () => {
    const pool = recording(server.pool({ database: 'router' }));
    const a = batchApp(session, 6, pool);
    const made = await Promise.all([0, 1, 2, 3, 4, 5].map((k) => request(a).post(`/bump/new${k}`)));
    const tokens = made.map((r) => {
      assert.equal(r.status, 200);
      return tokenOf(r);
    });
    const bumped = await Promise.all(tokens.map((t, k) => request(a).post(`/bump/then${k}`).set('Cookie', `sid=${t}`)));
    assert.deepEqual(bumped.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
    // six requests together, and still one statement each: a batch through
    // PL/Proxy is not one transaction
    assert.deepEqual(pool.log, [...Array(6).fill('create 1'), ...Array(6).fill('touch 1'), ...Array(6).fill('merge 1')]);
    for (let k = 0; k < 6; k++) {
      const t = tokens[k];
      const on = (db, s) => s.psql(`SELECT data FROM session_get('${t}')`, db);
      assert.deepEqual(JSON.parse(on(`sessions_${home(t)}`, shardServer(home(t)))), { [`new${k}`]: true, [`then${k}`]: true });
      assert.equal(on(`sessions_${1 - home(t)}`, shardServer(1 - home(t))), '', 'not on the other shard');
    }
  });

  it('with a shard stopped mid-request, writes each change once and fails only that shard\'s requests', async () => {
    const pool = recording(server.pool({ database: 'router' }));
    const setup = batchApp(session, 1, pool);
    // eight sessions, at least two on each shard, the first in token order on shard 0
    const tokens = [];
    while (tokens.filter((t) => home(t) === 0).length < 2 || tokens.filter((t) => home(t) === 1).length < 2) {
      tokens.push(tokenOf(await request(setup).post('/bump/made')));
    }
    tokens.sort();
    while (home(tokens[0]) !== 0) tokens.push(tokens.shift());
    const onShard0 = tokens.filter((t) => home(t) === 0);
    // every request's touch done with both shards up, then shard 1 stops, then all change their session together
    const a = express();
    a.use(session({ pool }));
    let arrived = 0;
    let go;
    const gate = new Promise((r) => { go = r; });
    a.post('/change', async (req, res) => {
      if (++arrived === tokens.length) {
        other.stopServer();
        go();
      }
      await gate;
      req.session.changed = true;
      res.json({ ok: true });
    });
    a.use((err, req, res, next) => res.status(500).json({ error: err.message, code: err.code }));
    const before = Number(server.psql('SELECT count(*) FROM public.data_writes', 'sessions_0'));
    pool.log.length = 0;
    let res;
    try {
      res = await Promise.all(tokens.map((t) => request(a).post('/change').set('Cookie', `sid=${t}`)));
    } finally {
      other.startServer();
    }
    for (let k = 0; k < tokens.length; k++) {
      if (home(tokens[k]) === 0) {
        assert.equal(res[k].status, 200, JSON.stringify(res[k].body));
      } else {
        assert.equal(res[k].status, 500);
        assert.equal(res[k].body.code, '08006');
        assert.match(res[k].body.error, /shard 1 \(option p1 of the server session_shards\) did not answer/);
      }
    }
    const writes = Number(server.psql('SELECT count(*) FROM public.data_writes', 'sessions_0')) - before;
    assert.equal(writes, onShard0.length, 'each change on shard 0 written once');
    assert.deepEqual(pool.log.filter((l) => l.startsWith('merge')), Array(tokens.length).fill('merge 1'),
      'each merge sent once, none again');
    for (const t of onShard0) {
      assert.deepEqual(JSON.parse(server.psql(`SELECT data FROM session_get('${t}')`, 'sessions_0')),
        { made: true, changed: true });
    }
  });

  // PL/Proxy cannot bound a call to a frozen shard (docs/operations.md): the
  // middleware's timeout does, and the router's other shards go on
  it('with a shard frozen (kill -STOP), its requests fail at the timeout, the others go on, nothing is lost',
    { timeout: 60000 }, async () => {
      const pool = recording(server.pool({ database: 'router', max: 10 }));
      const setup = batchApp(session, 1, pool);
      const up = [];
      const frozen = [];
      while (up.length < 3 || frozen.length < 3) {
        const t = tokenOf(await request(setup).post('/bump/kept'));
        (home(t) === 0 ? up : frozen).push(t);
      }
      // room for every request at once: none waits for a connection.  Two apps on one pool: the
      // warm-up's budget is the default one (a loaded machine opens router connections slowly), the
      // frozen phase's is short, yet long enough for a shard-0 request on a loaded machine
      const shared = server.pool({ database: 'router', max: 20 });
      const app = (timeout) => {
        const a = express();
        a.use(session(timeout ? { pool: shared, timeout } : { pool: shared }));
        a.get('/get', (req, res) => res.json({ data: { ...req.session } }));
        a.use((err, req, res, next) => res.status(500).json({ error: err.message, code: err.code, outcome: err.outcome }));
        return a;
      };
      const warm = app(0);
      const a = app(1500);
      // the router's connections to the shard open before it freezes (a cancel then waits on the shard
      // too), and new ones while frozen
      const all = [...up, ...frozen];
      assert.deepEqual((await Promise.all(all.map((t) => request(warm).get('/get').set('Cookie', `sid=${t}`))))
        .map((r) => [r.status, r.body.data]), all.map(() => [200, { kept: true }]));
      const pids = other.pids();
      for (const pid of pids) process.kill(pid, 'SIGSTOP');
      let res;
      try {
        res = await Promise.all([...all, ...frozen].map((t) => request(a).get('/get').set('Cookie', `sid=${t}`)));
      } finally {
        for (const pid of pids) process.kill(pid, 'SIGCONT');
      }
      assert.deepEqual(res.slice(0, up.length).map((r) => [r.status, r.body.data]), up.map(() => [200, { kept: true }]));
      assert.deepEqual(res.slice(up.length).map((r) => [r.status, r.body.code, r.body.outcome]),
        [...frozen, ...frozen].map(() => [500, 'ESESSIONTIMEOUT', 'unknown']));
      // thawed: every session is there, served again
      for (const t of [...up, ...frozen]) {
        let r;
        for (const end = Date.now() + 20000; (!r || r.status !== 200) && Date.now() < end;) {
          r = await request(a).get('/get').set('Cookie', `sid=${t}`);
        }
        assert.deepEqual(r.body.data, { kept: true });
      }
    });

  it('with a shard down, every login gets one session, and touches of the other shard go on', async () => {
    const pool = recording(server.pool({ database: 'router' }));
    const a = batchApp(session, 1, pool);
    const up = [];
    const down = [];
    while (up.length < 2 || down.length < 2) {
      const t = tokenOf(await request(a).post('/bump/before'));
      (home(t) === 0 ? up : down).push(t);
    }
    other.stopServer();
    let logins;
    let touches;
    const cPool = recording(server.pool({ database: 'router' }));
    try {
      // logins on router connections made while the shard is down (one the router opened to it before
      // would fail the first call sent on it: the tests above show that)
      const b = batchApp(session, 10, recording(server.pool({ database: 'router' })));
      pool.log.length = 0;
      logins = await Promise.all(Array.from({ length: 10 }, () => request(b).post('/bump/login')));
      // on new router connections too
      const c = batchApp(session, 1, cPool);
      touches = await Promise.all([...up, ...down].map((t) => request(c).get('/get').set('Cookie', `sid=${t}`)));
    } finally {
      other.startServer();
    }
    assert.deepEqual(logins.map((r) => r.status), Array(10).fill(200), JSON.stringify(logins.map((r) => r.body)));
    const made = logins.map(tokenOf);
    assert.equal(new Set(made).size, 10);
    assert.ok(made.every((t) => home(t) === 0), 'each on the shard that answers');
    assert.equal(Number(server.psql(`SELECT count(*) FROM session_internal.sessions WHERE data ? 'login'`, 'sessions_0')), 10,
      'ten logins, ten sessions');
    assert.deepEqual(touches.map((r) => r.status), [...up.map(() => 200), ...down.map(() => 500)],
      JSON.stringify(touches.map((r) => r.body)));
    assert.deepEqual(touches.slice(up.length).map((r) => r.body.code), down.map(() => '08006'));
    assert.equal(cPool.log.filter((l) => l.startsWith('touch')).length, up.length + down.length, 'no touch sent twice');
  });
});
