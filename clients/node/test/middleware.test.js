'use strict';
// Every method and option of the middleware over real HTTP against a real
// PostgreSQL (through pgbouncer when PGBOUNCER names it).
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const request = require('supertest');
const express = require('express');
const { useServer } = require('./server');
const { recording, batchApp } = require('./batches');
const session = require('..');

let server;
// every touch writes, so that rolling is visible at once
useServer({ before, after }, (s) => { server = s; },
  (s) => s.psql('ALTER ROLE app SET session.touch_interval = 0'));

/* A real pool that counts the statements sent through it. */
/* A pool that counts the calls a request makes; the version check each
 * middleware makes once, at its first call, is counted apart (versions). */
function counting(pool) {
  const c = {
    n: 0,
    versions: 0,
    query: (text, ...rest) => {
      if (/pg_catalog\.pg_extension/.test(text)) c.versions++;
      else c.n++;
      return pool.query(text, ...rest);
    },
  };
  return c;
}

function cookieOf(res, name = 'sid') {
  const c = (res.headers['set-cookie'] || []).find((h) => h.startsWith(`${name}=`));
  return c;
}
const pair = (res, name) => { const c = cookieOf(res, name); return c && c.split(';')[0]; };
const maxAge = (c) => Number(/Max-Age=(\d+)/.exec(c)[1]);
const rows = (where = 'true') =>
  Number(server.psql(`SELECT count(*) FROM session_internal.sessions WHERE ${where}`));

function app(options = {}, routes = () => {}) {
  const a = express();
  a.use(express.json());
  const pool = options.pool || counting(server.pool());
  const mw = session({ pool, ...options });
  a.use(mw);
  routes(a, mw);
  a.get('/get', (req, res) => res.json({ data: { ...req.session }, id: req.session.id || null }));
  a.post('/set', (req, res) => { Object.assign(req.session, req.body); res.json({ ok: true }); });
  a.post('/unset/:k', (req, res) => { delete req.session[req.params.k]; res.json({ ok: true }); });
  a.use((err, req, res, next) => res.status(500).json({ error: err.message, code: err.code }));
  a.pool = pool;
  a.mw = mw;
  return a;
}

describe('requests and lazy creation', () => {
  it('makes no database call and sends no cookie for a request without a cookie', async () => {
    const a = app();
    const res = await request(a).get('/get');
    assert.equal(res.status, 200);
    assert.equal(cookieOf(res), undefined);
    assert.equal(a.pool.n, 0);
  });

  it('creates a session only when something is stored, with the token in Set-Cookie', async () => {
    const a = app();
    const before = rows();
    const res = await request(a).post('/set').send({ theme: 'dark' });
    assert.equal(a.pool.n, 1, 'one call: session_create');
    assert.equal(a.pool.versions, 1, 'after the version check, made once');
    await request(a).post('/set').send({ theme: 'light' });
    assert.equal(a.pool.versions, 1, 'and not again');
    assert.equal(rows(), before + 2);
    assert.match(pair(res), /^sid=[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43}$/);
  });

  it('makes exactly one call (session_touch) for a request that changes nothing', async () => {
    const a = app();
    const c = pair(await request(a).post('/set').send({ theme: 'dark' }));
    a.pool.n = 0;
    const res = await request(a).get('/get').set('Cookie', c);
    assert.deepEqual(res.body.data, { theme: 'dark' });
    assert.equal(a.pool.n, 1);
  });

  it('writes only what changed: a set is one touch and one merge', async () => {
    const a = app();
    const c = pair(await request(a).post('/set').send({ a: 1, b: 2 }));
    a.pool.n = 0;
    await request(a).post('/set').set('Cookie', c).send({ b: 3 });
    assert.equal(a.pool.n, 2);
    await request(a).post('/unset/a').set('Cookie', c);
    const res = await request(a).get('/get').set('Cookie', c);
    assert.deepEqual(res.body.data, { b: 3 });
  });

  it('gives a bad or unknown cookie a new empty session and clears it', async () => {
    const a = app();
    const res = await request(a).get('/get').set('Cookie', `sid=${'A'.repeat(32)}.${'B'.repeat(43)}`);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.data, {});
    assert.match(cookieOf(res), /^sid=; Max-Age=0;/);
    const junk = await request(a).get('/get').set('Cookie', 'sid=not-a-token');
    assert.deepEqual(junk.body.data, {});
  });
});

describe('the cookie', () => {
  it('is HttpOnly, SameSite=Lax, Path=/, not Secure over plain HTTP, Max-Age from the database', async () => {
    const a = app({ idleTimeout: 3600 * 1000 });
    const c = cookieOf(await request(a).post('/set').send({ x: 1 }));
    assert.match(c, /; Path=\/; HttpOnly; SameSite=Lax$/);
    assert.doesNotMatch(c, /Secure/);
    const age = maxAge(c);
    assert.ok(age > 3590 && age <= 3600, `Max-Age ${age}`);
    const dbAge = Number(server.psql(`SELECT floor(extract(epoch FROM expires_at - now()))
      FROM session_internal.sessions ORDER BY created_at DESC LIMIT 1`));
    assert.ok(Math.abs(dbAge - age) <= 2, `database ${dbAge} s, cookie ${age} s`);
  });

  it('is Secure when the request is, behind a proxy Express trusts', async () => {
    const a = app();
    a.set('trust proxy', 1);
    const c = cookieOf(await request(a).post('/set').set('X-Forwarded-Proto', 'https').send({ x: 1 }));
    assert.match(c, /; Secure/);
    const b = app();
    const plain = cookieOf(await request(b).post('/set').set('X-Forwarded-Proto', 'https').send({ x: 1 }));
    assert.doesNotMatch(plain, /Secure/, 'an untrusted X-Forwarded-Proto is ignored');
  });

  it('is always Secure when configured, and takes name, domain, path and sameSite', async () => {
    const a = app({ name: 'app.sid', cookie: { secure: true, domain: 'example.com', path: '/app', sameSite: 'strict' } });
    const c = cookieOf(await request(a).post('/set').send({ x: 1 }), 'app.sid');
    assert.match(c, /^app\.sid=.*; Domain=example\.com; Path=\/app; HttpOnly; Secure; SameSite=Strict$/);
  });

  it('is sent again with the moved Max-Age when a touch rolls the expiry', async () => {
    const a = app({ idleTimeout: 60 * 1000 });
    const c = pair(await request(a).post('/set').send({ x: 1 }));
    const hash = "id_hash = (SELECT id_hash FROM session_internal.sessions ORDER BY created_at DESC LIMIT 1)";
    const first = server.psql(`SELECT expires_at FROM session_internal.sessions WHERE ${hash}`);
    const res = await request(a).get('/get').set('Cookie', c);
    const second = server.psql(`SELECT expires_at FROM session_internal.sessions WHERE ${hash}`);
    assert.ok(second > first, `expiry moved: ${first} -> ${second}`);
    const again = cookieOf(res);
    assert.ok(again.startsWith(`${c};`), 'the same token');
    assert.ok(maxAge(again) > 55 && maxAge(again) <= 60);
  });

  it('takes cookie.maxAge set before the first save as that session\'s idle timeout', async () => {
    const a = app({}, (r) => r.post('/remember', (req, res) => {
      req.session.cookie.maxAge = 30 * 24 * 3600 * 1000;
      req.session.x = 1;
      res.json({ ok: true });
    }));
    const c = cookieOf(await request(a).post('/remember'));
    assert.ok(maxAge(c) > 30 * 24 * 3600 - 10 && maxAge(c) <= 30 * 24 * 3600, `Max-Age ${maxAge(c)}`);
  });

  it('bounds Max-Age by the absolute timeout', async () => {
    const a = app({ idleTimeout: 3600 * 1000, absoluteTimeout: 600 * 1000 });
    const c = cookieOf(await request(a).post('/set').send({ x: 1 }));
    assert.ok(maxAge(c) <= 600 && maxAge(c) > 590);
  });
});

describe('session methods', () => {
  it('save, regenerate, reload, touch and id, with callbacks and promises', async () => {
    const seen = {};
    const a = app({}, (r) => {
      r.post('/flow', async (req, res, next) => {
        try {
          req.session.step = 1;
          await req.session.save();
          seen.first = req.session.id;
          assert.equal(req.sessionID, seen.first);
          assert.throws(() => { req.session.id = 'x'; }, TypeError);
          await new Promise((resolve, reject) => req.session.regenerate((e) => (e ? reject(e) : resolve())));
          assert.deepEqual({ ...req.session }, {}, 'regenerate starts empty');
          assert.equal(req.session.id, undefined, 'and lazily');
          req.session.step = 2;
          await new Promise((resolve, reject) => req.session.save((e) => (e ? reject(e) : resolve())));
          seen.second = req.session.id;
          assert.equal(req.session.touch(), req.session);
          res.json({ ok: true });
        } catch (e) {
          next(e);
        }
      });
      r.post('/reload', async (req, res, next) => {
        try {
          server.psql(`SELECT 1`); // (keep the event loop honest)
          await req.session.reload();
          res.json({ data: { ...req.session } });
        } catch (e) {
          next(e);
        }
      });
    });
    const res = await request(a).post('/flow');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.notEqual(seen.first, seen.second);
    assert.equal(pair(res), `sid=${seen.second}`);
    // the first token is dead
    assert.deepEqual((await request(a).get('/get').set('Cookie', `sid=${seen.first}`)).body.data, {});
    assert.deepEqual((await request(a).get('/get').set('Cookie', `sid=${seen.second}`)).body.data, { step: 2 });
    assert.deepEqual((await request(a).post('/reload').set('Cookie', `sid=${seen.second}`)).body.data, { step: 2 });
  });

  it('destroy ends the session in the database and clears the cookie', async () => {
    const a = app({}, (r) => r.post('/logout', (req, res) => req.session.destroy(() => res.json({ gone: !req.session }))));
    const c = pair(await request(a).post('/set').send({ x: 1 }));
    const before = rows();
    const res = await request(a).post('/logout').set('Cookie', c);
    assert.deepEqual(res.body, { gone: true });
    assert.match(cookieOf(res), /^sid=; Max-Age=0;/);
    assert.equal(rows(), before - 1);
  });

  it('regenerateKeepsData keeps the data under a new token, atomically', async () => {
    const a = app({ regenerateKeepsData: true }, (r) => r.post('/login', async (req, res) => {
      await req.session.regenerate();
      res.json({ id: req.session.id });
    }));
    const c = pair(await request(a).post('/set').send({ cart: ['tea'] }));
    const res = await request(a).post('/login').set('Cookie', c);
    const n = pair(res);
    assert.notEqual(n, c);
    assert.deepEqual((await request(a).get('/get').set('Cookie', c)).body.data, {});
    assert.deepEqual((await request(a).get('/get').set('Cookie', n)).body.data, { cart: ['tea'] });
  });
});

describe('responses', () => {
  it('gets the new session\'s cookie into res.redirect, res.send, res.end and a streamed res.write', async () => {
    const a = app({}, (r) => {
      r.get('/redirect', (req, res) => { req.session.x = 1; res.redirect('/elsewhere'); });
      r.get('/send', (req, res) => { req.session.x = 1; res.send('hello'); });
      r.get('/end', (req, res) => { req.session.x = 1; res.end(); });
      r.get('/stream', (req, res) => {
        req.session.x = 1;
        res.setHeader('Content-Type', 'text/plain');
        res.write('a');
        res.write('b');
        setImmediate(() => res.end('c'));
      });
    });
    for (const path of ['/redirect', '/send', '/end', '/stream']) {
      const res = await request(a).get(path);
      assert.ok(pair(res), `${path} has the cookie`);
      assert.deepEqual((await request(a).get('/get').set('Cookie', pair(res))).body.data, { x: 1 }, path);
      if (path === '/stream') assert.equal(res.text, 'abc');
    }
  });
});

describe('races', () => {
  it('keeps both of two parallel requests\' changes to different keys', async () => {
    let release;
    const gate = new Promise((r) => { release = r; });
    let arrived = 0;
    let bothIn;
    const both = new Promise((r) => { bothIn = r; });
    const a = app({}, (r) => r.post('/slow/:k', async (req, res) => {
      if (++arrived === 2) bothIn();
      await gate; // both loaded the same data before either writes
      req.session[req.params.k] = true;
      res.json({ ok: true });
    }));
    const c = pair(await request(a).post('/set').send({ base: 1 }));
    const p1 = request(a).post('/slow/left').set('Cookie', c).then((r) => r);
    const p2 = request(a).post('/slow/right').set('Cookie', c).then((r) => r);
    await both;
    release();
    await Promise.all([p1, p2]);
    assert.deepEqual((await request(a).get('/get').set('Cookie', c)).body.data, { base: 1, left: true, right: true });
  });

  it('never brings back a session destroyed while another request held it', async () => {
    let release;
    const gate = new Promise((r) => { release = r; });
    let loaded;
    const isLoaded = new Promise((r) => { loaded = r; });
    const a = app({}, (r) => {
      r.post('/slow', async (req, res) => { loaded(); await gate; req.session.late = true; res.json({ ok: true }); });
      r.post('/logout', (req, res) => req.session.destroy(() => res.json({ ok: true })));
    });
    const c = pair(await request(a).post('/set').send({ x: 1 }));
    const slow = request(a).post('/slow').set('Cookie', c).then((r) => r);
    await isLoaded;
    const before = rows();
    await request(a).post('/logout').set('Cookie', c);
    release();
    const res = await slow;
    assert.equal(rows(), before - 1, 'no row came back');
    assert.match(cookieOf(res), /^sid=; Max-Age=0;/, 'the late response clears the cookie');
    assert.deepEqual((await request(a).get('/get').set('Cookie', c)).body.data, {});
  });
});

const tokens = (n) => server.psql(
  `SELECT session_create(NULL, jsonb_build_object('n', g)) FROM generate_series(1, ${n}) g`).trim().split('\n');

describe('batches', () => {
  it('sends the touches, and then the merges, of requests that arrive together as one statement each', async () => {
    const pool = recording(server.pool());
    const a = batchApp(session, 5, pool);
    const ts = tokens(5);
    const res = await Promise.all(ts.map((t, k) => request(a).post(`/bump/k${k}`).set('Cookie', `sid=${t}`)));
    assert.deepEqual(res.map((r) => r.status), [200, 200, 200, 200, 200]);
    assert.deepEqual(pool.log, ['touch 5', 'merge 5']);
    for (let k = 0; k < 5; k++) {
      assert.match(cookieOf(res[k]), new RegExp(`^sid=${ts[k].replace('.', '\\.')};`), 'each its own cookie');
      const data = JSON.parse(server.psql(`SELECT data FROM session_get('${ts[k]}')`));
      assert.deepEqual(data, { n: k + 1, [`k${k}`]: true });
    }
  });

  it('keeps both changes of two requests of one session in the same statements', async () => {
    const pool = recording(server.pool());
    const a = batchApp(session, 2, pool);
    const [t] = tokens(1);
    await Promise.all(['left', 'right'].map((k) => request(a).post(`/bump/${k}`).set('Cookie', `sid=${t}`)));
    assert.deepEqual(pool.log, ['touch 2', 'merge 2']);
    assert.deepEqual(JSON.parse(server.psql(`SELECT data FROM session_get('${t}')`)), { n: 1, left: true, right: true });
  });

  it('sends each item alone when the server refuses the statement, so only the bad one fails', async () => {
    const pool = recording(server.pool());
    const a = batchApp(session, 3, pool);
    const before = rows();
    // the second asks for a 401-day idle timeout, which session_create refuses
    const res = await Promise.all([1, 401, 2].map((d) => request(a).post(`/bump/x?days=${d}`)));
    assert.deepEqual(res.map((r) => r.status), [200, 500, 200]);
    assert.equal(res[1].body.code, '22023');
    assert.match(res[1].body.error, /must not exceed 400 days/);
    assert.equal(cookieOf(res[1]), undefined);
    assert.match(cookieOf(res[0]), /^sid=[A-Za-z0-9_-]{32}\./);
    assert.match(cookieOf(res[2]), /^sid=[A-Za-z0-9_-]{32}\./);
    assert.deepEqual(pool.log, ['create 3', 'create 1', 'create 1', 'create 1']);
    assert.equal(rows(), before + 2);
  });

  it('carries at most 200 items in one statement', async () => {
    const pool = recording(server.pool());
    const a = batchApp(session, 201, pool);
    const ts = tokens(201);
    const res = await Promise.all(ts.map((t) => request(a).get('/get').set('Cookie', `sid=${t}`)));
    assert.equal(res.filter((r) => r.status === 200).length, 201);
    assert.deepEqual(res.map((r) => r.body.data.n), ts.map((t, k) => k + 1));
    assert.deepEqual(pool.log, ['touch 200', 'touch 1']);
  });
});

describe('users', () => {
  it('userKey is the database\'s user_id: log out everywhere, everywhere but here, list', async () => {
    const a = app({}, (r, mw) => {
      r.post('/login/:id', async (req, res) => {
        await req.session.regenerate();
        req.session.userId = Number(req.params.id);
        res.json({ ok: true });
      });
      r.get('/devices', async (req, res) => res.json(await mw.list(req.session.userId)));
      r.post('/logout-others', async (req, res) =>
        res.json({ ended: await mw.destroyUser(req.session.userId, { except: req.session }) }));
      r.post('/logout-all', async (req, res) => res.json({ ended: await mw.destroyUser(req.session.userId) }));
    });
    const uid = 900 + Math.floor(Math.random() * 1000);
    const c1 = pair(await request(a).post(`/login/${uid}`));
    const c2 = pair(await request(a).post(`/login/${uid}`));
    const c3 = pair(await request(a).post(`/login/${uid}`));
    assert.equal(rows(`user_id = '${uid}'`), 3);
    const devices = (await request(a).get('/devices').set('Cookie', c1)).body;
    assert.equal(devices.length, 3);
    assert.deepEqual(devices[0].data, { userId: uid });
    assert.ok(!JSON.stringify(devices).includes(c1.slice(4)), 'no token in the list');
    assert.deepEqual((await request(a).post('/logout-others').set('Cookie', c1)).body, { ended: 2 });
    assert.deepEqual((await request(a).get('/get').set('Cookie', c2)).body.data, {});
    assert.deepEqual((await request(a).get('/get').set('Cookie', c1)).body.data, { userId: uid });
    assert.deepEqual((await request(a).post('/logout-all').set('Cookie', c1)).body, { ended: 1 });
    assert.deepEqual((await request(a).get('/get').set('Cookie', c3)).body.data, {});
  });

  it('a devices page: each session\'s handle and last use, and one of them signed out by it', async () => {
    const a = app({}, (r, mw) => {
      r.post('/login/:id', async (req, res) => {
        await req.session.regenerate();
        req.session.userId = req.params.id;
        req.session.device = req.get('user-agent');
        res.json({ ok: true });
      });
      r.get('/devices', async (req, res) => res.json(await mw.list(req.session.userId)));
      r.post('/devices/:handle/sign-out', async (req, res) =>
        res.json({ ended: await mw.destroyHandle(req.session.userId, req.params.handle) }));
    });
    const uid = `dev-${Math.floor(Math.random() * 1e9)}`;
    const phone = pair(await request(a).post(`/login/${uid}`).set('User-Agent', 'phone'));
    const laptop = pair(await request(a).post(`/login/${uid}`).set('User-Agent', 'laptop'));
    const other = pair(await request(a).post(`/login/${uid}-other`).set('User-Agent', 'tablet'));
    const devices = (await request(a).get('/devices').set('Cookie', laptop)).body;
    assert.deepEqual(devices.map((d) => d.data.device), ['phone', 'laptop']);
    for (const d of devices) {
      assert.match(d.handle, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(!phone.includes(d.handle) && !laptop.includes(d.handle), 'a handle is no part of a token');
      assert.ok(Date.parse(d.lastUsedAt) >= Date.parse(d.createdAt));
    }
    const phoneHandle = devices[0].handle;
    // the other user cannot end the phone's session with its handle
    assert.deepEqual((await request(a).post(`/devices/${phoneHandle}/sign-out`).set('Cookie', other)).body,
      { ended: false });
    assert.equal((await request(a).get('/get').set('Cookie', phone)).body.data.device, 'phone');
    // nor does anything that is not a handle
    assert.deepEqual((await request(a).post('/devices/not-a-handle/sign-out').set('Cookie', laptop)).body,
      { ended: false });
    // the laptop signs the phone out; the laptop stays signed in
    assert.deepEqual((await request(a).post(`/devices/${phoneHandle}/sign-out`).set('Cookie', laptop)).body,
      { ended: true });
    assert.deepEqual((await request(a).get('/get').set('Cookie', phone)).body.data, {});
    assert.equal((await request(a).get('/get').set('Cookie', laptop)).body.data.device, 'laptop');
    assert.deepEqual((await request(a).get('/devices').set('Cookie', laptop)).body.map((d) => d.data.device), ['laptop']);
    assert.deepEqual((await request(a).post(`/devices/${phoneHandle}/sign-out`).set('Cookie', laptop)).body,
      { ended: false });
  });

  it('maxSessionsPerUser: a login past it ends the least recently used, or is refused with ESESSIONLIMIT', async () => {
    const login = (options) => app(options, (r) => {
      r.post('/login/:id', async (req, res) => {
        await req.session.regenerate();
        req.session.userId = req.params.id;
        res.json({ ok: true });
      });
    });
    const uid = `lim-${Math.floor(Math.random() * 1e9)}`;
    const a = login({ maxSessionsPerUser: 2 });
    const firstRes = await request(a).post(`/login/${uid}`);
    assert.equal(firstRes.status, 200, JSON.stringify(firstRes.body));
    const first = pair(firstRes);
    const second = pair(await request(a).post(`/login/${uid}`));
    assert.ok(first && second, 'both logins have a cookie');
    // the first is used again: the second is now the least recently used
    assert.equal((await request(a).get('/get').set('Cookie', first)).body.data.userId, uid);
    server.psql(`UPDATE session_internal.sessions SET expires_at = expires_at - interval '1 minute'
      WHERE user_id = '${uid}' AND id_hash = sha256(convert_to(split_part('${second.slice(4)}', '.', 1), 'UTF8'))`);
    // a login of an anonymous session that had data: the regenerate path
    const anon = pair(await request(a).post('/set').send({ cart: ['tea'] }));
    assert.ok(anon, 'the anonymous session has a cookie');
    const thirdRes = await request(a).post(`/login/${uid}`).set('Cookie', anon);
    assert.equal(thirdRes.status, 200, JSON.stringify(thirdRes.body));
    const third = pair(thirdRes);
    assert.equal(rows(`user_id = '${uid}'`), 2);
    assert.deepEqual((await request(a).get('/get').set('Cookie', second)).body.data, {}, 'the least recently used ended');
    assert.equal((await request(a).get('/get').set('Cookie', first)).body.data.userId, uid);
    assert.equal((await request(a).get('/get').set('Cookie', third)).body.data.userId, uid);

    const refusing = login({ maxSessionsPerUser: 2, onSessionLimit: 'refuse' });
    const res = await request(refusing).post(`/login/${uid}`);
    assert.equal(res.status, 500);
    assert.equal(res.body.code, 'ESESSIONLIMIT');
    assert.match(res.body.error, /most live sessions allowed \(2\)/);
    assert.equal(rows(`user_id = '${uid}'`), 2, 'nothing written');
    const viaRegenerate = await request(refusing).post(`/login/${uid}`)
      .set('Cookie', pair(await request(refusing).post('/set').send({ x: 1 })));
    assert.equal(viaRegenerate.body.code, 'ESESSIONLIMIT');
    assert.equal(rows(`user_id = '${uid}'`), 2);

    assert.throws(() => session({ pool: a.pool, maxSessionsPerUser: -1 }), /maxSessionsPerUser must be an integer/);
    assert.throws(() => session({ pool: a.pool, maxSessionsPerUser: 1.5 }), /maxSessionsPerUser must be an integer/);
    assert.throws(() => session({ pool: a.pool, onSessionLimit: 'drop' }), /onSessionLimit must be 'evict' or 'refuse'/);
  });

  it('setting userKey on a stored session moves user_id, with a new token', async () => {
    const a = app();
    const c = pair(await request(a).post('/set').send({ cart: ['tea'] }));
    const res = await request(a).post('/set').set('Cookie', c).send({ userId: 4242 });
    const n = pair(res);
    assert.notEqual(n, c);
    assert.equal(rows("user_id = '4242'"), 1);
    assert.deepEqual((await request(a).get('/get').set('Cookie', c)).body.data, {});
    assert.deepEqual((await request(a).get('/get').set('Cookie', n)).body.data, { cart: ['tea'], userId: 4242 });
  });

  it('a dotted userKey (passport.user) names a nested property', async () => {
    const a = app({ userKey: 'passport.user' });
    await request(a).post('/set').send({ passport: { user: 'bob-77' } });
    assert.equal(rows("user_id = 'bob-77'"), 1);
  });
});

describe('failures', () => {
  it('gives next(err) when the pool cannot give a connection in time', async () => {
    const pool = server.pool({ max: 1 });
    const a = app({ pool, timeout: 300 });
    const c = pair(await request(a).post('/set').send({ x: 1 }));
    const held = await pool.connect();
    try {
      const res = await request(a).get('/get').set('Cookie', c);
      assert.equal(res.status, 500);
      assert.equal(res.body.code, 'ESESSIONTIMEOUT');
      assert.match(res.body.error, /no answer from the database within 300 ms/);
    } finally {
      held.release();
    }
    assert.equal((await request(a).get('/get').set('Cookie', c)).status, 200);
  });

  it('gives next(err) while the database is down, and works again when it is back', async () => {
    const a = app({ timeout: 2000 });
    const c = pair(await request(a).post('/set').send({ x: 1 }));
    server.stopServer();
    try {
      const res = await request(a).get('/get').set('Cookie', c);
      assert.equal(res.status, 500);
      assert.match(res.body.error, /^session store: /);
      const create = await request(a).post('/set').send({ y: 1 });
      assert.equal(create.status, 500, 'a create fails too, before the response goes out');
      assert.equal(cookieOf(create), undefined);
    } finally {
      server.startServer();
    }
    // until the pool (and pgbouncer, if there) has reconnected, at most 30 s
    let ok;
    for (const end = Date.now() + 30000; ok !== 200 && Date.now() < end;) {
      ok = (await request(a).get('/get').set('Cookie', c)).status;
      if (ok !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ok, 200);
    assert.deepEqual((await request(a).get('/get').set('Cookie', c)).body.data, { x: 1 });
  });
});
