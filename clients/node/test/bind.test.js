'use strict';
// req.session.withDatabase: the request's session bound to one transaction
// (session_bind), over real HTTP against a real PostgreSQL (through
// pgbouncer's transaction pooling when PGBOUNCER names it), with a table
// whose row-level security policy reads session_bound_user().
const { describe, it, before, after } = require('node:test');
const { Client } = require('pg');
const assert = require('node:assert/strict');
const request = require('supertest');
const express = require('express');
const { useServer } = require('./server');
const session = require('..');

let server;
useServer({ before, after }, (s) => { server = s; }, (s) => {
  s.psql(`GRANT EXECUTE ON FUNCTION session_bind(text), session_bound_user(), session_bound_data() TO app;
    CREATE TABLE notes (owner text NOT NULL, body text);
    ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
    CREATE POLICY own ON notes USING (owner = session_bound_user()) WITH CHECK (owner = session_bound_user());
    GRANT SELECT, INSERT ON notes TO app;
    INSERT INTO notes VALUES ('alice', 'a1'), ('alice', 'a2'), ('bob', 'b1');`);
});

const pair = (res) => (res.headers['set-cookie'] || []).find((h) => h.startsWith('sid='))?.split(';')[0];

function app(pool) {
  const a = express();
  a.use(express.json());
  a.use(session({ pool }));
  a.post('/login/:user', async (req, res) => {
    await req.session.regenerate();
    req.session.userId = req.params.user;
    await req.session.save();
    res.json({ ok: true });
  });
  /* the handler forgets its WHERE: the policy still shows the user's rows only */
  a.get('/notes', async (req, res, next) => {
    try {
      res.json(await req.session.withDatabase(async (c) => (await c.query('SELECT body FROM notes ORDER BY body')).rows.map((r) => r.body)));
    } catch (err) {
      next(err);
    }
  });
  a.post('/notes', async (req, res, next) => {
    try {
      await req.session.withDatabase(async (c) => {
        await c.query('INSERT INTO notes VALUES ($1, $2)', [req.body.owner, req.body.body]);
      });
      res.json({ ok: true });
    } catch (err) {
      next(err);
    }
  });
  a.post('/logout', async (req, res) => { await req.session.destroy(); res.json({ ok: true }); });
  a.use((err, req, res, next) => res.status(err.code === 'ESESSIONUNBOUND' ? 401 : 500).json({ error: err.message, code: err.code }));
  return a;
}

describe('req.session.withDatabase', () => {
  it("shows each user their own rows only, and none to a request without a session", async () => {
    const pool = server.pool();
    const a = app(pool);
    const alice = pair(await request(a).post('/login/alice'));
    const bob = pair(await request(a).post('/login/bob'));
    // interleaved: the two users' transactions at the same time
    const [ra, rb] = await Promise.all([
      request(a).get('/notes').set('Cookie', alice),
      request(a).get('/notes').set('Cookie', bob),
    ]);
    assert.deepEqual(ra.body, ['a1', 'a2']);
    assert.deepEqual(rb.body, ['b1']);
    const none = await request(a).get('/notes');
    assert.equal(none.status, 401);
    assert.equal(none.body.code, 'ESESSIONUNBOUND');
    // the binding ended with each transaction: the same pool's connections
    // (through pgbouncer, the same server connections) see nothing now
    for (let i = 0; i < 5; i++) {
      assert.equal((await pool.query('SELECT count(*)::int AS n FROM notes')).rows[0].n, 0);
    }
  });

  it('rolls back what the callback wrote when it fails, and refuses a row for another user', async () => {
    const a = app(server.pool());
    const alice = pair(await request(a).post('/login/alice'));
    const forged = await request(a).post('/notes').set('Cookie', alice).send({ owner: 'bob', body: 'forged' });
    assert.equal(forged.status, 500);
    assert.match(forged.body.error, /row-level security/);
    assert.equal(server.psql("SELECT count(*) FROM notes WHERE body = 'forged'"), '0');
    assert.equal((await request(a).post('/notes').set('Cookie', alice).send({ owner: 'alice', body: 'a3' })).status, 200);
    assert.deepEqual((await request(a).get('/notes').set('Cookie', alice)).body, ['a1', 'a2', 'a3']);
  });

  it('fails with ESESSIONUNBOUND once the session ended', async () => {
    const a = app(server.pool());
    const alice = pair(await request(a).post('/login/alice'));
    server.psql("SELECT session_destroy_user('alice')");
    const res = await request(a).get('/notes').set('Cookie', alice);
    assert.equal(res.status, 401);
  });
});

// pgbouncer's transaction pooling hands one server connection to client
// after client: a binding never outlives the transaction that made it, so
// the next client of the connection sees nobody's rows.
describe('through pgbouncer, two clients on one server connection', () => {
  it('never see each other\'s rows, whatever the first left behind',
    { skip: !process.env.PGBOUNCER && 'needs pgbouncer in transaction pooling (PGBOUNCER=its path)' }, async () => {
      server.psql("INSERT INTO notes VALUES ('carol', 'c1'), ('dave', 'd1')");
      const carol = server.psql("SELECT session_create('carol')");
      const dave = server.psql("SELECT session_create('dave')");
      const connect = async () => {
        const c = new Client({ ...server.target(), user: 'app', database: 'onebackend' });
        c.on('error', () => {});
        await c.connect();
        return c;
      };
      const [a, b] = [await connect(), await connect()];
      const rows = async (c) => (await c.query('SELECT body FROM notes ORDER BY body')).rows.map((r) => r.body);
      const pid = async (c) => (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p;
      try {
        const backend = await pid(a);
        assert.equal(await pid(b), backend, 'both clients on one server connection');
        // committed
        await a.query('BEGIN');
        await a.query('SELECT user_id FROM session_bind($1)', [carol]);
        assert.deepEqual(await rows(a), ['c1']);
        await a.query('COMMIT');
        assert.deepEqual(await rows(b), []);
        // b's query waits for a's transaction, then runs on the same connection
        await a.query('BEGIN');
        await a.query('SELECT user_id FROM session_bind($1)', [carol]);
        const waiting = rows(b);
        assert.deepEqual(await rows(a), ['c1']);
        await a.query('COMMIT');
        assert.deepEqual(await waiting, []);
        // a bind that is a statement of its own ends with it
        await a.query('SELECT user_id FROM session_bind($1)', [carol]);
        assert.deepEqual(await rows(b), []);
        // aborted by an error, then rolled back
        await a.query('BEGIN');
        await a.query('SELECT user_id FROM session_bind($1)', [carol]);
        await assert.rejects(a.query('SELECT 1 / 0'));
        await a.query('ROLLBACK');
        assert.deepEqual(await rows(b), []);
        // the other way round, with the other user
        await b.query('BEGIN');
        await b.query('SELECT user_id FROM session_bind($1)', [dave]);
        assert.deepEqual(await rows(b), ['d1']);
        await b.query('COMMIT');
        assert.deepEqual(await rows(a), []);
        // a client that disconnects inside its bound transaction: pgbouncer
        // closes that server connection (it cannot know what the client
        // left in it) and the next client gets a new one, where nothing is
        // bound
        await a.query('BEGIN');
        await a.query('SELECT user_id FROM session_bind($1)', [carol]);
        a.connection.stream.destroy();
        assert.deepEqual(await rows(b), []);
      } finally {
        await Promise.all([a.end().catch(() => {}), b.end().catch(() => {})]);
      }
    });
});
