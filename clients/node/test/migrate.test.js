'use strict';
// The bridge of docs/migrating.md, run as it stands in that file: a user
// logged in under express-session + connect-pg-simple keeps their session
// across the switch, moved on their next request, and the old one ends.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const request = require('supertest');
const express = require('express');
const expressSession = require('express-session');
const connectPgSimple = require('connect-pg-simple');
const { useServer } = require('./server');
const session = require('..');

let server;
useServer({ before, after }, (s) => { server = s; });

/* The ```js migrate-bridge block of docs/migrating.md. */
function bridgeBlock() {
  const doc = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'migrating.md'), 'utf8');
  const m = doc.match(/```js migrate-bridge\n([\s\S]*?)```/);
  assert.ok(m, 'docs/migrating.md has its bridge block');
  return m[1];
}

function cookieOf(res, name) {
  const c = (res.headers['set-cookie'] || []).find((h) => h.startsWith(`${name}=`));
  return c ? c.split(';')[0] : undefined;
}

describe('the migration bridge of docs/migrating.md', () => {
  let oldApp;
  let newApp;
  let legacyPool;
  before(() => {
    legacyPool = server.pool({ user: 'legacy', database: 'legacy' });
    const store = new (connectPgSimple(expressSession))({ pool: legacyPool, tableName: 'user_sessions',
      createTableIfMissing: true });
    const secret = 'test secret';
    // before the switch: express-session alone
    oldApp = express();
    oldApp.use(expressSession({ store, secret, name: 'connect.sid', resave: false, saveUninitialized: false }));
    oldApp.post('/login', (req, res) => { req.session.userId = 7; req.session.cart = ['tea']; res.json({ ok: true }); });
    // after: the bridge, then the app's routes
    newApp = express();
    const pool = server.pool();
    // eslint-disable-next-line no-new-func
    new Function('require', 'app', 'store', 'secret', 'session', 'pool', bridgeBlock())(
      require, newApp, store, secret, session, pool);
    newApp.get('/me', (req, res) => (req.session.userId === undefined ? res.status(401).end()
      : res.json({ userId: req.session.userId, cart: req.session.cart })));
  });

  it('moves a logged-in old session into a new one on the next request', async () => {
    const old = cookieOf(await request(oldApp).post('/login'), 'connect.sid');
    assert.ok(old);
    const { rows: [{ n: before }] } = await legacyPool.query('SELECT count(*)::int AS n FROM user_sessions');
    assert.equal(before, 1);

    const moved = await request(newApp).get('/me').set('Cookie', old);
    assert.equal(moved.status, 200);
    assert.deepEqual(moved.body, { userId: 7, cart: ['tea'] });
    const sid = cookieOf(moved, 'sid');
    assert.ok(sid, 'the new cookie is set');
    assert.match(cookieOf(moved, 'connect.sid'), /^connect\.sid=$/, 'the old cookie is cleared');
    const { rows: [{ n: after }] } = await legacyPool.query('SELECT count(*)::int AS n FROM user_sessions');
    assert.equal(after, 0, 'the old session is ended');

    const again = await request(newApp).get('/me').set('Cookie', sid);
    assert.deepEqual(again.body, { userId: 7, cart: ['tea'] });
    const [row] = await server.pool().query('SELECT user_id FROM session_get($1)', [sid.split('=')[1]])
      .then((r) => r.rows);
    assert.equal(row.user_id, '7', 'the user is the database\'s user_id');
    assert.equal((await request(newApp).get('/me').set('Cookie', old)).status, 401,
      'the old cookie no longer logs in');
    const forged = `connect.sid=${encodeURIComponent('s:' + 'x'.repeat(32) + '.forged')}`;
    assert.equal((await request(newApp).get('/me').set('Cookie', forged)).status, 401,
      'a cookie without the old secret\'s signature moves nothing');
  });

  it('leaves a request with neither cookie alone', async () => {
    const res = await request(newApp).get('/me');
    assert.equal(res.status, 401);
    assert.equal(cookieOf(res, 'sid'), undefined);
  });
});
