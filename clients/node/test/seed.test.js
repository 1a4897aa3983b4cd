'use strict';
// The seed app, unchanged but for its app.use(session(...)) line, behaves
// the same with this package as with express-session + connect-pg-simple:
// the same assertions run against both, on Express 4 and 5.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const request = require('supertest');
const { useServer } = require('./server');
const { seedApp } = require('./seed-app');
const sessionExpress = require('..');

let server;
useServer({ before, after }, (s) => { server = s; });

function cookieOf(res, name) {
  const all = res.headers['set-cookie'] || [];
  const c = all.find((h) => h.startsWith(`${name}=`));
  return c ? c.split(';')[0] : undefined;
}

const variants = [];
for (const [expressName, express] of [['Express 5', require('express')], ['Express 4', require('express4')]]) {
  variants.push({
    name: `session-express, ${expressName}`,
    cookie: 'connect.sid',
    make: () => seedApp(express, sessionExpress({ pool: server.pool(), name: 'connect.sid' }), 'connect.sid'),
  });
}
variants.push({
  name: 'express-session + connect-pg-simple, Express 5',
  cookie: 'connect.sid',
  make: () => {
    const session = require('express-session');
    const connectPgSimple = require('connect-pg-simple');
    const pool = server.pool({ user: 'legacy', database: 'legacy' });
    return seedApp(require('express'), session({
      store: new (connectPgSimple(session))({ pool, tableName: 'user_sessions', createTableIfMissing: true }),
      secret: 'test secret', resave: false, saveUninitialized: false, rolling: true,
      cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: 7 * 24 * 3600 * 1000 },
    }), 'connect.sid');
  },
});

for (const v of variants) {
  describe(v.name, () => {
    let app;
    before(() => { app = v.make(); });

    const login = (cookie) => {
      const r = request(app).post('/api/login').send({ username: 'alice', password: 'secret' });
      return cookie ? r.set('Cookie', cookie) : r;
    };
    const me = (cookie) => request(app).get('/api/me').set('Cookie', cookie || '');

    it('refuses a request without a session, and sends no cookie', async () => {
      const res = await request(app).get('/api/me');
      assert.equal(res.status, 401);
      assert.equal(cookieOf(res, v.cookie), undefined);
    });

    it('refuses a wrong password without creating a session', async () => {
      const res = await request(app).post('/api/login').send({ username: 'alice', password: 'nope' });
      assert.equal(res.status, 401);
      assert.equal(cookieOf(res, v.cookie), undefined);
    });

    it('logs in, and the cookie then authenticates', async () => {
      const res = await login();
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { user: { id: 1, role: 'member' } });
      const c = cookieOf(res, v.cookie);
      assert.ok(c);
      const m = await me(c);
      assert.equal(m.status, 200);
      assert.deepEqual(m.body, { userId: 1, role: 'member' });
    });

    it('regenerates on login: the session held before it is dead after', async () => {
      const anon = cookieOf(await request(app).post('/api/cart').send({ item: 'tea' }), v.cookie);
      assert.ok(anon);
      const res = await login(anon);
      const c = cookieOf(res, v.cookie);
      assert.ok(c);
      assert.notEqual(c, anon);
      const cart = await request(app).post('/api/cart').set('Cookie', anon).send({ item: 'milk' });
      assert.deepEqual(cart.body, { cart: ['milk'] }, 'the pre-login session is gone');
      assert.equal((await me(c)).status, 200);
    });

    it('logs out: the cookie is cleared and no longer authenticates', async () => {
      const c = cookieOf(await login(), v.cookie);
      const res = await request(app).post('/api/logout').set('Cookie', c);
      assert.equal(res.status, 200);
      assert.match(res.headers['set-cookie'].join('\n'), new RegExp(`${v.cookie}=;`));
      assert.equal((await me(c)).status, 401);
    });

    it('a password change regenerates: old cookie dead, new one works', async () => {
      const c = cookieOf(await login(), v.cookie);
      const res = await request(app).post('/api/password').set('Cookie', c);
      assert.equal(res.status, 200);
      const n = cookieOf(res, v.cookie);
      assert.ok(n);
      assert.notEqual(n, c);
      assert.equal((await me(c)).status, 401);
      assert.deepEqual((await me(n)).body, { userId: 1, role: 'member' });
    });

    it('granting admin regenerates and keeps the user', async () => {
      const c = cookieOf(await login(), v.cookie);
      const res = await request(app).post('/api/grant-admin').set('Cookie', c);
      const n = cookieOf(res, v.cookie);
      assert.equal((await me(c)).status, 401);
      assert.deepEqual((await me(n)).body, { userId: 1, role: 'admin' });
    });
  });
}
