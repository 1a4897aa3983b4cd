'use strict';
// What express-session apps pass and rely on, over real HTTP against a real
// PostgreSQL (through pgbouncer when PGBOUNCER names it): its options
// honoured or refused at start-up, the middleware outside Express (plain
// http, Connect-style), a handler that goes on after res.end(), a pool
// whose idle connection the database ends, passport's user objects, a
// save() not awaited, a null value, and a database whose extension is too
// old for this client.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const request = require('supertest');
const express = require('express');
const { useServer, REQUEST_FUNCTIONS_1_4 } = require('./server');
const session = require('..');

let server;
useServer({ before, after }, (s) => { server = s; });

const cookieOf = (res, name = 'sid') => (res.headers['set-cookie'] || []).find((h) => h.startsWith(`${name}=`));
const pair = (res) => { const c = cookieOf(res); return c && c.split(';')[0]; };
const rows = (where = 'true') => Number(server.psql(`SELECT count(*) FROM session_internal.sessions WHERE ${where}`));
const idleSeconds = (user) => Number(server.psql(
  `SELECT extract(epoch FROM idle_timeout) FROM session_internal.sessions WHERE user_id = '${user}'`));

function app(options = {}, routes = () => {}) {
  const a = express();
  a.use(express.json());
  a.mw = session({ pool: options.pool || server.pool(), ...options });
  a.use(a.mw);
  routes(a);
  a.get('/get', (req, res) => res.json({ ...req.session }));
  a.post('/set', (req, res) => { Object.assign(req.session, req.body); res.json({ ok: true }); });
  a.use((err, req, res, next) => res.status(500).json({ error: err.message, code: err.code }));
  return a;
}

/* process warnings with our code, while fn runs */
async function warningsDuring(code, fn) {
  const seen = [];
  const listener = (w) => { if (w.code === code) seen.push(w.message); };
  process.on('warning', listener);
  try {
    await fn();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', listener);
  }
  return seen;
}

describe('express-session options', () => {
  it('refuses what cannot apply, and what it does not know, at start-up', () => {
    const pool = server.pool();
    assert.throws(() => session({ pool, store: {} }), /store option is not supported/);
    assert.throws(() => session({ pool, genid: () => 'x' }), /genid option is not supported/);
    assert.throws(() => session({ pool, cookie: { expires: new Date() } }), /cookie.expires is not supported/);
    assert.throws(() => session({ pool, cookie: { maxAge: 1000 }, idleTimeout: 2000 }), /same setting/);
    assert.throws(() => session({ pool, unset: 'forget' }), /unset must be/);
    assert.throws(() => session({ pool, saveUnitialized: true }), /unknown option saveUnitialized/);
    assert.throws(() => session({ pool, cookie: { maxage: 1 } }), /unknown cookie option maxage/);
    assert.throws(() => session({ pool, userKey: 42 }), /userKey must be/);
  });

  it('says once that secret and resave: true have no effect, and works', async () => {
    const seen = await warningsDuring('SESSION_EXPRESS_OPTION', async () => {
      const a = app({ secret: 'keyboard cat', resave: true });
      session({ pool: server.pool(), secret: 'again' });
      const res = await request(a).post('/set').send({ a: 1 });
      assert.ok(pair(res));
    });
    assert.equal(seen.filter((m) => /secret option is not used/.test(m)).length, 1);
    assert.equal(seen.filter((m) => /resave: true has no effect/.test(m)).length, 1);
  });

  it('takes cookie.maxAge as the idle timeout, in the database and the cookie', async () => {
    const a = app({ cookie: { maxAge: 120000 } }, (x) => {
      x.get('/max', (req, res) => res.json({ maxAge: req.session.cookie.maxAge, original: req.session.cookie.originalMaxAge }));
    });
    const before = await request(a).get('/max');
    assert.deepEqual(before.body, { maxAge: 120000, original: 120000 }, 'what the cookie will get, before any save');
    const res = await request(a).post('/set').send({ userId: 'max-age-user' });
    assert.equal(idleSeconds('max-age-user'), 120);
    const age = Number(/Max-Age=(\d+)/.exec(cookieOf(res))[1]);
    assert.ok(age > 110 && age <= 120, `Max-Age ${age}`);
  });

  it('makes a browser-session cookie for cookie.maxAge: null', async () => {
    const res = await request(app({ cookie: { maxAge: null } })).post('/set').send({ a: 1 });
    const c = cookieOf(res);
    assert.ok(c && !/Max-Age|Expires/.test(c), c);
  });

  it('changes a stored session\'s timeout and cookie when cookie.maxAge is set on it', async () => {
    const a = app({}, (x) => {
      x.post('/remember', (req, res) => { req.session.cookie.maxAge = 60000; res.json({ maxAge: req.session.cookie.maxAge }); });
    });
    const login = await request(a).post('/set').send({ userId: 'remember-user' });
    assert.equal(idleSeconds('remember-user'), 7 * 24 * 3600);
    const res = await request(a).post('/remember').set('Cookie', pair(login));
    assert.equal(res.body.maxAge, 60000);
    assert.equal(idleSeconds('remember-user'), 60);
    const age = Number(/Max-Age=(\d+)/.exec(cookieOf(res))[1]);
    assert.ok(age > 50 && age <= 60, `Max-Age ${age}`);
    const bad = await request(a).post('/set').set('Cookie', pair(login)).send({});
    assert.equal(bad.status, 200);
  });

  it('refuses an invalid cookie.expires or maxAge on a session', async () => {
    const a = app({}, (x) => {
      x.get('/bad-expires', (req, res) => { req.session.cookie.expires = new Date('no'); res.end(); });
      x.get('/bad-max', (req, res) => { req.session.cookie.maxAge = -5; res.end(); });
    });
    assert.match((await request(a).get('/bad-expires')).body.error, /cookie.expires must be a Date/);
    assert.match((await request(a).get('/bad-max')).body.error, /cookie.maxAge must be a positive number/);
  });

  it('honours saveUninitialized: true, and keeps the lazy default without it', async () => {
    const before = rows();
    const lazy = await request(app()).get('/get');
    assert.equal(cookieOf(lazy), undefined);
    assert.equal(rows(), before);
    const eager = await request(app({ saveUninitialized: true })).get('/get');
    assert.ok(pair(eager), 'an empty session is stored and its cookie sent');
    assert.equal(rows(), before + 1);
  });

  it("honours unset: 'destroy' (req.session = null ends it), and keeps it by default", async () => {
    const routes = (x) => x.post('/drop', (req, res) => { req.session = null; res.json({ ok: true }); });
    for (const [unset, left] of [['keep', 1], ['destroy', 0]]) {
      const a = app({ unset }, routes);
      const user = `unset-${unset}`;
      const res = await request(a).post('/set').send({ userId: user });
      const drop = await request(a).post('/drop').set('Cookie', pair(res));
      assert.equal(rows(`user_id = '${user}'`), left, unset);
      if (unset === 'destroy') assert.match(cookieOf(drop), /^sid=;/, 'the cookie is cleared');
    }
  });

  it('honours proxy: true (X-Forwarded-Proto) for a Secure cookie', async () => {
    const res = await request(app({ proxy: true })).post('/set').set('X-Forwarded-Proto', 'https').send({ a: 1 });
    assert.match(cookieOf(res), /; Secure/);
    const plain = await request(app({ proxy: false })).post('/set').set('X-Forwarded-Proto', 'https').send({ a: 1 });
    assert.doesNotMatch(cookieOf(plain), /Secure/);
  });

  it('sends a modified session\'s cookie again with rolling: false, and not an unmodified one', async () => {
    const a = app({ rolling: false });
    const first = await request(a).post('/set').send({ n: 1 });
    const read = await request(a).get('/get').set('Cookie', pair(first));
    assert.equal(cookieOf(read), undefined);
    const changed = await request(a).post('/set').set('Cookie', pair(first)).send({ n: 2 });
    assert.ok(cookieOf(changed), 'a change sends it, with a fresh expiry');
  });

  it('reads the token from cookie-parser\'s req.cookies when the header has none', async () => {
    const a = app();
    const res = await request(a).post('/set').send({ via: 'cookies' });
    const token = pair(res).split('=')[1];
    const b = express();
    b.use((req, _res, next) => { req.cookies = { sid: token }; delete req.headers.cookie; next(); });
    b.use(session({ pool: server.pool() }));
    b.get('/get', (req, r) => r.json({ ...req.session }));
    assert.deepEqual((await request(b).get('/get')).body, { via: 'cookies' });
  });
});

describe('outside Express', () => {
  it('sends the cookie with plain http.createServer and a Connect-style chain', async () => {
    const mw = session({ pool: server.pool() });
    const srv = http.createServer((req, res) => {
      mw(req, res, (err) => {
        if (err) { res.statusCode = 500; return res.end(err.message); }
        if (req.method === 'POST') req.session.plain = 'http';
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ ...req.session }));
      });
    });
    const first = await request(srv).post('/');
    assert.ok(pair(first), 'Set-Cookie without Express');
    const again = await request(srv).get('/').set('Cookie', pair(first));
    assert.deepEqual(again.body, { plain: 'http' });
  });
});

describe('the response after res.end()', () => {
  it('ignores what a handler does after end(), with a warning, and keeps the process and the session', async () => {
    const a = app({}, (x) => {
      x.post('/twice', (req, res) => {
        req.session.twice = true;
        res.end('first');
        res.setHeader('X-After', 'yes');
        res.end('second');
        res.write('third');
      });
    });
    let res;
    const seen = await warningsDuring('SESSION_EXPRESS_OPTION', async () => {
      res = await request(a).post('/twice');
    });
    assert.equal(res.text, 'first');
    assert.equal(res.headers['x-after'], undefined);
    assert.ok(pair(res), 'the session was saved and its cookie sent');
    assert.ok(seen.some((m) => /res.setHeader\(\) after res.end\(\) is ignored/.test(m)));
    const later = await request(a).get('/get').set('Cookie', pair(res));
    assert.deepEqual(later.body, { twice: true }, 'the process goes on');
  });
});

describe('the pool', () => {
  // through pgbouncer the server's connection ends but the app's to pgbouncer stays: the fault never reaches the pool
  it('survives the database ending an idle pooled connection', {
    skip: process.env.PGBOUNCER ? 'pgbouncer keeps the app\'s connection when the server\'s ends' : false,
  }, async () => {
    const { Pool } = require('pg');
    const pool = new Pool({ ...server.target(), user: 'app', database: 'postgres', max: 2 });
    const a = app({ pool });
    const res = await request(a).post('/set').send({ userId: 'pool-user' });
    const seen = await warningsDuring('SESSION_EXPRESS_POOL', async () => {
      server.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app' AND state = 'idle'");
      await new Promise((r) => setTimeout(r, 200));
    });
    assert.ok(seen.length >= 1, 'a warning, not an unhandled error event');
    const again = await request(a).get('/get').set('Cookie', pair(res));
    assert.deepEqual(again.body, { userId: 'pool-user' });
    await pool.end();
  });
});

describe('userKey', () => {
  it('refuses an object as the user id (passport\'s { id, username }) and takes a path or a function to it', async () => {
    const routes = (x) => x.post('/login', (req, res) => {
      req.session.passport = { user: { id: 42, username: 'ann' } };
      res.json({ ok: true });
    });
    const before = rows("user_id = '[object Object]'");
    const refused = await request(app({ userKey: 'passport.user' }, routes)).post('/login');
    assert.equal(refused.status, 500);
    assert.equal(refused.body.code, 'ESESSIONUSERKEY');
    assert.equal(rows("user_id = '[object Object]'"), before, 'no user stored as [object Object]');
    await request(app({ userKey: 'passport.user.id' }, routes)).post('/login');
    assert.equal(rows("user_id = '42' AND data->'passport'->'user'->>'username' = 'ann'"), 1);
    await request(app({ userKey: (d) => d.passport && d.passport.user.username }, routes)).post('/login');
    assert.equal(rows("user_id = 'ann'"), 1);
  });
});

describe('writes', () => {
  it('makes one session of a save() the handler did not wait for and the end of the request', async () => {
    const a = app({}, (x) => {
      x.post('/login-save', (req, res) => {
        req.session.userId = 'one-save-user';
        req.session.save();
        res.json({ ok: true });
      });
    });
    const res = await request(a).post('/login-save');
    assert.ok(pair(res));
    assert.equal(rows("user_id = 'one-save-user'"), 1);
  });

  it('keeps a null value, and removes a deleted key', async () => {
    const a = app({}, (x) => x.post('/unset', (req, res) => { delete req.session.gone; res.json({ ok: true }); }));
    const res = await request(a).post('/set').send({ keep: null, gone: 1 });
    await request(a).post('/set').set('Cookie', pair(res)).send({ more: null });
    await request(a).post('/unset').set('Cookie', pair(res));
    assert.deepEqual((await request(a).get('/get').set('Cookie', pair(res))).body, { keep: null, more: null });
  });
});

describe('the extension version', () => {
  it('fails the first call with an error naming the version found and the one needed, until it is updated', async () => {
    server.psql('CREATE DATABASE oldext');
    server.psql(`CREATE EXTENSION session VERSION '1.3'`, 'oldext');
    const a = app({ pool: server.pool({ database: 'oldext' }) }, (r) => {
      r.get('/bound', async (req, res, next) => {
        try {
          res.json(await req.session.withDatabase(() => 'bound'));
        } catch (err) {
          next(err);
        }
      });
    });
    let res = await request(a).post('/set').send({ n: 1 });
    assert.equal(res.status, 500);
    assert.equal(res.body.code, 'ESESSIONVERSION');
    assert.match(res.body.error, /session 1\.3 \(needs 1\.4 or newer\).*ALTER EXTENSION/);
    assert.equal(Number(server.psql('SELECT count(*) FROM session_internal.sessions', 'oldext')), 0);
    server.psql(`ALTER EXTENSION session UPDATE TO '1.4'; GRANT EXECUTE ON FUNCTION ${REQUEST_FUNCTIONS_1_4} TO app`, 'oldext');
    res = await request(a).post('/set').send({ n: 1 });
    assert.equal(res.status, 200, 'the check is made again after a failure');
    assert.equal(Number(server.psql('SELECT count(*) FROM session_internal.sessions', 'oldext')), 1);
    // withDatabase needs 1.5 (session_bind)
    res = await request(a).get('/bound').set('Cookie', pair(res));
    assert.equal(res.status, 500);
    assert.equal(res.body.code, 'ESESSIONVERSION');
    assert.match(res.body.error, /1\.5 or newer/);
    // handles need 1.6: listed without them, and destroyHandle says so
    assert.deepEqual((await a.mw.list('nobody')), []);
    server.psql("SELECT session_create('old-user')", 'oldext');
    const [listed] = await a.mw.list('old-user');
    assert.equal(listed.handle, null);
    assert.equal(listed.lastUsedAt, null);
    await assert.rejects(a.mw.destroyHandle('old-user', 'x'.repeat(43)),
      (err) => err.code === 'ESESSIONVERSION' && /1\.6 or newer/.test(err.message));
  });

  it('says so when the database has no session extension at all', async () => {
    server.psql('CREATE DATABASE noext');
    const a = app({ pool: server.pool({ database: 'noext' }) });
    const res = await request(a).get('/get').set('Cookie', 'sid=abc.def');
    assert.equal(res.status, 500);
    assert.equal(res.body.code, 'ESESSIONVERSION');
    assert.match(res.body.error, /neither the session extension nor the session_proxy router/);
  });
});
