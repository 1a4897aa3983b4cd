'use strict';
// csrf: true over real HTTP against a real PostgreSQL (through pgbouncer
// when PGBOUNCER names it): req.csrfToken() is the database's
// session_csrf_token of the session, a method that changes something is
// refused without it with csurf's 403 EBADCSRFTOKEN, checked in the touch
// statement (one call a request), and a login gives a new one; the
// README's csrf app (its ```js readme-csrf block) as it stands there.  The
// browser's side (a form posted from another origin) is browser.test.js.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const request = require('supertest');
const express = require('express');
const fs = require('node:fs');
const path = require('node:path');
const { useServer } = require('./server');
const { startReadmeApp } = require('./readme-app');
const session = require('..');

let server;
useServer({ before, after }, (s) => { server = s; });

/* The calls a request makes; the version check, once per middleware, apart. */
function counting(pool) {
  const c = {
    n: 0,
    query: (text, ...rest) => {
      if (!/pg_catalog\.pg_extension/.test(text)) c.n++;
      return pool.query(text, ...rest);
    },
  };
  return c;
}

const pair = (res) => {
  const c = (res.headers['set-cookie'] || []).find((h) => h.startsWith('sid='));
  return c && c.split(';')[0];
};
const tokenOf = (cookie) => decodeURIComponent(cookie.slice('sid='.length));
const quote = (s) => `'${s.replace(/'/g, "''")}'`;
/* the oracle: the database's own function, as the extension's superuser */
const csrfOf = (cookie) => server.psql(`SELECT session_csrf_token(${quote(tokenOf(cookie))})`);
const stored = (cookie) => JSON.parse(server.psql(`SELECT data FROM session_get(${quote(tokenOf(cookie))})`) || 'null');

/* csurf's own error handler, unchanged */
function csurfHandler(err, req, res, next) {
  if (err.code !== 'EBADCSRFTOKEN') return next(err);
  res.status(403).json({ error: 'form tampered with', status: err.status, message: err.message });
}

function app(options = {}, { bodyFirst = true } = {}) {
  const a = express();
  if (bodyFirst) a.use(express.json(), express.urlencoded({ extended: false }));
  a.pool = counting(server.pool());
  a.mw = session({ pool: a.pool, csrf: true, ...options });
  a.use(a.mw);
  if (!bodyFirst) a.use(express.json(), express.urlencoded({ extended: false }));
  const token = (req) => { try { return req.csrfToken(); } catch (err) { return err.code; } };
  // a login page: a session for the form's token to belong to, saved first
  a.get('/form', async (req, res) => {
    req.session.visited = true;
    await req.session.save();
    res.json({ csrf: req.csrfToken() });
  });
  a.get('/token', (req, res) => res.json({ csrf: token(req) }));
  for (const m of ['post', 'put', 'patch', 'delete']) {
    a[m]('/set', (req, res) => {
      const { _csrf, ...rest } = req.body || {};
      Object.assign(req.session, rest);
      res.json({ ok: true });
    });
  }
  a.post('/login', async (req, res) => {
    req.session.userId = req.body.user;
    const before = token(req);
    await req.session.save();
    res.json({ before, after: req.csrfToken() });
  });
  a.post('/logout', async (req, res) => {
    await req.session.destroy();
    res.json({ csrf: token(req) });
  });
  a.use(csurfHandler);
  a.use((err, req, res, next) => res.status(500).json({ error: err.message, code: err.code }));
  return a;
}

async function visit(a) {
  const res = await request(a).get('/form');
  assert.equal(res.status, 200);
  return { cookie: pair(res), csrf: res.body.csrf };
}

describe('csrf: the token', () => {
  it('is the database\'s session_csrf_token of the session, the same on each request, with no storage', async () => {
    const a = app();
    const { cookie, csrf } = await visit(a);
    assert.match(csrf, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(csrf, csrfOf(cookie));
    const again = await request(a).get('/token').set('Cookie', cookie);
    assert.equal(again.body.csrf, csrf);
    assert.deepEqual(stored(cookie), { visited: true }, 'nothing of the token is kept in the session');
  });

  it('is refused to a request without a stored session, saying what to do', async () => {
    const a = app();
    const res = await request(a).get('/token');
    assert.equal(res.body.csrf, 'ESESSIONCSRF');
    assert.equal(pair(res), undefined, 'asking for one creates no session');
    const gone = await request(a).get('/token').set('Cookie', 'sid=not.a-token');
    assert.equal(gone.body.csrf, 'ESESSIONCSRF');
  });

  it('changes with a login, is refused between the change of user and its save, and the old one stops working', async () => {
    const a = app();
    const { cookie, csrf } = await visit(a);
    const res = await request(a).post('/login').set('Cookie', cookie).set('x-csrf-token', csrf).send({ user: 'ann' });
    assert.equal(res.status, 200);
    assert.equal(res.body.before, 'ESESSIONCSRF');
    const next = pair(res);
    assert.notEqual(next, cookie);
    assert.notEqual(res.body.after, csrf);
    assert.equal(res.body.after, csrfOf(next));
    const stale = await request(a).post('/set').set('Cookie', next).set('x-csrf-token', csrf).send({ n: 1 });
    assert.equal(stale.status, 403, 'the token of the session before the login');
    const fresh = await request(a).post('/set').set('Cookie', next).set('x-csrf-token', res.body.after).send({ n: 1 });
    assert.equal(fresh.status, 200);
  });

  it('comes with a session regenerated keeping its data, and ends with a destroyed one', async () => {
    const a = app({ regenerateKeepsData: true });
    a.post('/regen', async (req, res) => {
      await req.session.regenerate();
      res.json({ csrf: req.csrfToken() });
    });
    const { cookie, csrf } = await visit(a);
    const res = await request(a).post('/regen').set('Cookie', cookie).set('x-csrf-token', csrf);
    assert.equal(res.status, 200);
    assert.notEqual(res.body.csrf, csrf);
    assert.equal(res.body.csrf, csrfOf(pair(res)));
    const out = await request(a).post('/logout').set('Cookie', pair(res)).set('x-csrf-token', res.body.csrf);
    assert.equal(out.body.csrf, 'ESESSIONCSRF');
  });
});

describe('csrf: refusing', () => {
  it('refuses each method that changes something without the token, with csurf\'s 403 EBADCSRFTOKEN, writing nothing', async () => {
    const a = app();
    const { cookie, csrf } = await visit(a);
    for (const m of ['post', 'put', 'patch', 'delete']) {
      const res = await request(a)[m]('/set').set('Cookie', cookie).send({ [m]: 1 });
      assert.equal(res.status, 403, m);
      assert.deepEqual(res.body, { error: 'form tampered with', status: 403, message: 'invalid csrf token' });
      const ok = await request(a)[m]('/set').set('Cookie', cookie).set('x-csrf-token', csrf).send({ [m]: 1 });
      assert.equal(ok.status, 200, m);
    }
    assert.deepEqual(stored(cookie), { visited: true, post: 1, put: 1, patch: 1, delete: 1 });
  });

  it('refuses a wrong token, another session\'s, one character off, an overlong one and a missing session', async () => {
    const a = app();
    const mine = await visit(a);
    const other = await visit(a);
    const off = mine.csrf.slice(0, -1) + (mine.csrf.endsWith('A') ? 'B' : 'A');
    for (const bad of [other.csrf, off, mine.csrf + 'A', 'x'.repeat(5000), mine.csrf.toLowerCase()]) {
      const res = await request(a).post('/set').set('Cookie', mine.cookie).set('x-csrf-token', bad).send({ bad: 1 });
      assert.equal(res.status, 403, bad.slice(0, 50));
    }
    // no cookie, a bad one, and a destroyed session's cookie with its old token
    assert.equal((await request(a).post('/set').set('x-csrf-token', mine.csrf).send({ bad: 1 })).status, 403);
    assert.equal((await request(a).post('/set').set('Cookie', 'sid=a.b').set('x-csrf-token', mine.csrf)).status, 403);
    server.psql(`SELECT session_destroy(${quote(tokenOf(other.cookie))})`);
    assert.equal((await request(a).post('/set').set('Cookie', other.cookie).set('x-csrf-token', other.csrf)).status, 403);
    assert.deepEqual(stored(mine.cookie), { visited: true });
  });

  it('takes the token from the _csrf form field and from csurf\'s headers, and lets GET, HEAD and OPTIONS through', async () => {
    const a = app();
    const { cookie, csrf } = await visit(a);
    const form = await request(a).post('/set').set('Cookie', cookie).type('form').send({ _csrf: csrf, via: 'form' });
    assert.equal(form.status, 200);
    for (const h of ['csrf-token', 'xsrf-token', 'x-csrf-token', 'x-xsrf-token']) {
      assert.equal((await request(a).post('/set').set('Cookie', cookie).set(h, csrf).send({ [h]: 1 })).status, 200, h);
    }
    for (const m of ['get', 'head', 'options']) {
      assert.notEqual((await request(a)[m]('/token').set('Cookie', cookie)).status, 403, m);
    }
    assert.equal(stored(cookie).via, 'form');
  });

  it('checks the token in the touch statement: one call a request, as without csrf', async () => {
    const a = app();
    const { cookie, csrf } = await visit(a);
    a.pool.n = 0;
    await request(a).post('/set').set('Cookie', cookie).set('x-csrf-token', csrf);
    assert.equal(a.pool.n, 1, 'a POST that changes nothing: the touch, which checked the token');
    a.pool.n = 0;
    await request(a).post('/set').set('Cookie', cookie);
    assert.equal(a.pool.n, 1, 'a refused POST: the touch');
    a.pool.n = 0;
    await request(a).get('/token').set('Cookie', cookie);
    assert.equal(a.pool.n, 1, 'a GET giving the token: the touch');
  });

  it('warns when the body is parsed after the middleware, where a _csrf field cannot be seen', async () => {
    const a = app({}, { bodyFirst: false });
    const { cookie, csrf } = await visit(a);
    const seen = [];
    const listener = (w) => { if (w.code === 'SESSION_EXPRESS_OPTION') seen.push(w.message); };
    process.on('warning', listener);
    try {
      const res = await request(a).post('/set').set('Cookie', cookie).type('form').send({ _csrf: csrf, n: 1 });
      assert.equal(res.status, 403);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', listener);
    }
    assert.ok(seen.some((m) => /put the body parser .* before the session middleware/.test(m)), seen.join('\n'));
    // the header needs no body
    assert.equal((await request(a).post('/set').set('Cookie', cookie).set('x-csrf-token', csrf)).status, 200);
  });
});

describe('csrf: options', () => {
  it('honours csurf\'s ignoreMethods and value, and refuses what cannot apply', async () => {
    const pool = server.pool();
    assert.throws(() => session({ pool, csrf: 'yes' }), /csrf must be true, false or an object/);
    assert.throws(() => session({ pool, csrf: { cookie: true } }), /csrf.cookie is not supported/);
    assert.throws(() => session({ pool, csrf: { sessionKey: 's' } }), /csrf.sessionKey is not supported/);
    assert.throws(() => session({ pool, csrf: { ignoreMethod: [] } }), /unknown csrf option ignoreMethod/);
    assert.throws(() => session({ pool, csrf: { ignoreMethods: 'GET' } }), /ignoreMethods must be an array/);
    assert.throws(() => session({ pool, csrf: { value: 'x' } }), /csrf.value must be a function/);
    const a = app({ csrf: { ignoreMethods: ['get', 'PUT'], value: (req) => req.headers['x-my-token'] } });
    const { cookie, csrf } = await visit(a);
    assert.equal((await request(a).put('/set').set('Cookie', cookie).send({ put: 1 })).status, 200);
    assert.equal((await request(a).post('/set').set('Cookie', cookie).set('x-csrf-token', csrf)).status, 403);
    assert.equal((await request(a).post('/set').set('Cookie', cookie).set('x-my-token', csrf)).status, 200);
    const off = app({ csrf: false });
    assert.equal((await request(off).post('/set').send({ n: 1 })).status, 200, 'csrf: false checks nothing');
  });

  it('refuses csrf: true on a database whose extension has no CSRF functions', async () => {
    server.psql('CREATE DATABASE oldcsrf');
    server.psql(`CREATE EXTENSION session VERSION '1.5'`, 'oldcsrf');
    const a = express();
    a.use(session({ pool: server.pool({ database: 'oldcsrf' }), csrf: true }));
    a.get('/', (req, res) => res.json({}));
    a.use((err, req, res, next) => res.status(500).json({ error: err.message, code: err.code }));
    const res = await request(a).get('/').set('Cookie', 'sid=a.b');
    assert.equal(res.body.code, 'ESESSIONVERSION');
    assert.match(res.body.error, /csrf: true needs the session extension 1\.6 or newer \(this database has 1\.5\)/);
  });
});

describe("the README's csrf app", () => {
  let child;
  let base;
  const file = path.join(__dirname, '..', '.readme-csrf.js');
  before(async () => {
    ({ child, base } = await startReadmeApp(file, server, 'readme-csrf'));
  });
  after(() => {
    if (child) child.kill();
    fs.rmSync(file, { force: true });
  });

  it('gives the login form its token, refuses the form without it, and logs in with it', async () => {
    const page = await fetch(`${base}/login`);
    const cookie = page.headers.get('set-cookie').split(';')[0];
    const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())[1];
    assert.equal(csrf, csrfOf(cookie));
    const post = (body) => fetch(`${base}/login`, { method: 'POST', redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) });
    const refused = await post({ user: 'eve' });
    assert.equal(refused.status, 403);
    assert.equal(await refused.text(), 'form tampered with');
    const forged = await post({ user: 'eve', _csrf: 'A'.repeat(43) });
    assert.equal(forged.status, 403);
    const ok = await post({ user: 'ann', _csrf: csrf });
    assert.equal(ok.status, 302);
    const next = ok.headers.get('set-cookie').split(';')[0];
    assert.notEqual(next, cookie, 'the login regenerated');
    const me = await (await fetch(`${base}/me`, { headers: { cookie: next } })).json();
    assert.equal(me.user, 'ann');
    assert.equal(me.csrf, csrfOf(next));
    assert.notEqual(me.csrf, csrf);
  });
});
