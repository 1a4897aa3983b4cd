'use strict';
// The client's timeout against a statement that is really slow: held by a
// row lock, by a commit waiting for a synchronous standby that never comes,
// and by a frozen backend (kill -STOP).  A request answered "failed" must
// not have a write that committed: the statement is cancelled, or its
// outcome is what the request answers.  Through pgbouncer when PGBOUNCER
// names it (the cancel goes through pgbouncer too).
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const request = require('supertest');
const express = require('express');
const { Client } = require('pg');
const { useServer } = require('./server');
const { together } = require('./batches');
const session = require('..');

let server;
// the app's commits wait for synchronous_standby_names (set only in the
// tests that want them to wait); the tests' own psql does not
useServer({ before, after }, (s) => { server = s; }, (s) => {
  s.psql(`ALTER SYSTEM SET synchronous_commit = 'local'`);
  s.psql('SELECT pg_reload_conf()');
  s.psql(`ALTER ROLE app SET synchronous_commit = 'on'`);
});

const TIMEOUT = 300;

function app(pool, n = 1) {
  const a = express();
  a.use(express.json());
  a.use(together(n));
  a.use(session({ pool, timeout: TIMEOUT }));
  a.post('/set', (req, res) => { Object.assign(req.session, req.body); res.json({ ok: true }); });
  a.get('/get', (req, res) => res.json({ data: { ...req.session } }));
  a.use((err, req, res, next) => res.status(500).json({ error: err.message, code: err.code, outcome: err.outcome }));
  return a;
}

const tokenOf = (res) => /^sid=([^;]+);/.exec(res.headers['set-cookie'][0])[1];
const dataOf = (token) => JSON.parse(server.psql(`SELECT data FROM session_get('${token}')`));

/* A superuser connection, straight to the server, holding locks while the app waits. */
async function admin() {
  const c = new Client({ host: server.dir, port: server.port, user: 'postgres', database: 'postgres' });
  await c.connect();
  return c;
}

/* the row of the session made last (of those made by one statement: all of them) */
const LOCK_NEWEST = `SELECT 1 FROM session_internal.sessions s
  WHERE s.created_at = (SELECT max(created_at) FROM session_internal.sessions) FOR UPDATE`;

async function made(a, body) {
  const res = await request(a).post('/set').send(body);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return tokenOf(res);
}

describe('a statement slower than the timeout', () => {
  it('is cancelled, and what the request reports failed was not written', async () => {
    const pool = server.pool({ max: 2 });
    const a = app(pool);
    const token = await made(a, { n: 1 });
    const locker = await admin();
    try {
      await locker.query('BEGIN');
      await locker.query(LOCK_NEWEST);
      const res = await request(a).post('/set').set('Cookie', `sid=${token}`).send({ n: 2 });
      assert.equal(res.status, 500);
      assert.equal(res.body.code, 'ESESSIONTIMEOUT');
      assert.equal(res.body.outcome, 'cancelled');
      assert.match(res.body.error, /within 300 ms; the statement was cancelled and nothing was written/);
    } finally {
      await locker.query('COMMIT');
      await locker.end();
    }
    // nothing is left waiting to write n = 2 once the lock is gone
    await request(a).get('/get').set('Cookie', `sid=${token}`);
    assert.deepEqual(dataOf(token), { n: 1 });
  });

  it('cancels a batch as a whole: none of its requests\' writes land', async () => {
    const pool = server.pool({ max: 2 });
    const a = app(pool, 3);
    const tokens = await Promise.all([1, 2, 3].map(() => made(a, { n: 1 })));
    const locker = await admin();
    try {
      await locker.query('BEGIN');
      // the three were made in one statement: all locked, the batch's merge waits
      await locker.query(LOCK_NEWEST);
      const res = await Promise.all(tokens.map((t) => request(a).post('/set').set('Cookie', `sid=${t}`).send({ n: 2 })));
      assert.deepEqual(res.map((r) => [r.status, r.body.outcome]),
        [[500, 'cancelled'], [500, 'cancelled'], [500, 'cancelled']]);
    } finally {
      await locker.query('COMMIT');
      await locker.end();
    }
    assert.deepEqual(tokens.map(dataOf), [{ n: 1 }, { n: 1 }, { n: 1 }]);
  });

  it('that commits although cancelled (a synchronous standby awaited) answers success, not failure', async () => {
    const pool = server.pool({ max: 2 });
    const a = app(pool);
    const token = await made(a, { n: 1 });
    server.psql(`ALTER SYSTEM SET synchronous_standby_names = 'nobody'`);
    server.psql('SELECT pg_reload_conf()');
    let merged;
    let created;
    try {
      merged = await request(a).post('/set').set('Cookie', `sid=${token}`).send({ n: 2 });
      created = await request(a).post('/set').send({ fresh: true });
    } finally {
      server.psql('ALTER SYSTEM RESET synchronous_standby_names');
      server.psql('SELECT pg_reload_conf()');
    }
    // the cancel ended the wait for the standby, and the commit stood
    assert.equal(merged.status, 200, JSON.stringify(merged.body));
    assert.deepEqual(dataOf(token), { n: 2 });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    assert.deepEqual(dataOf(tokenOf(created)), { fresh: true });
    assert.match(server.log(), /canceling wait for synchronous replication due to user request/);
  });

  // the test's own timeout: a hang fails it
  it('on a frozen backend answers that the outcome is unknown, and the pool goes on', { timeout: 60000 }, async () => {
    const pool = server.pool({ max: 1 });
    const a = app(pool);
    const token = await made(a, { n: 1 });
    // every backend of the app's role (behind pgbouncer any of them may serve it)
    const pids = server.psql(`SELECT pid FROM pg_stat_activity WHERE usename = 'app'`).split('\n').map(Number);
    for (const pid of pids) process.kill(pid, 'SIGSTOP');
    let res;
    try {
      res = await request(a).post('/set').set('Cookie', `sid=${token}`).send({ n: 2 });
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    }
    assert.equal(res.status, 500);
    assert.equal(res.body.outcome, 'unknown');
    assert.match(res.body.error, /may or may not have been applied/);
    // the frozen connection was dropped: the next request gets a new one
    let ok;
    for (const end = Date.now() + 10000; ok !== 200 && Date.now() < end;) {
      ok = (await request(a).get('/get').set('Cookie', `sid=${token}`)).status;
    }
    assert.equal(ok, 200);
  });
});
