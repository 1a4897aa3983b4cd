'use strict';
// The benchmark's Express app, one side per process:
//   node app.js SIDE SOCKET_DIR PG_PORT PORT
// SIDE is connect-pg-simple (A: express-session + connect-pg-simple),
// connect-redis (B: express-session + connect-redis, Redis on a Unix socket
// in SOCKET_DIR), session-express (C: this project's middleware) or
// session-express-csrf (D: C with csrf: true, the cost of its check).  The
// routes are the same on every side; only the app.use(session(...)) line
// differs.  GET /__count gives the statements sent to PostgreSQL so far
// (run.js counts Redis's commands on the server).
const express = require('express');
const { Pool } = require('pg');

const [side, dir, pgPort, port] = process.argv.slice(2);
const WEEK = 7 * 24 * 3600 * 1000;
let calls = 0;

function countingPool(opts) {
  const pool = new Pool({ host: dir, port: Number(pgPort), database: 'postgres', max: Number(process.env.E2E_POOL || 10), ...opts });
  // each statement on each of its clients: pool.query() and a client of
  // pool.connect() (session-express's, which can cancel a statement) alike
  pool.on('connect', (client) => {
    const query = client.query.bind(client);
    client.query = (...args) => { calls++; return query(...args); };
  });
  return pool;
}

async function sessionLayer() {
  const cookie = { secure: false, httpOnly: true, sameSite: 'lax', maxAge: WEEK };
  if (side === 'session-express' || side === 'session-express-csrf') {
    const session = require('session-express');
    return session({ pool: countingPool({ user: 'app' }), name: 'sid', idleTimeout: WEEK, csrf: side === 'session-express-csrf' });
  }
  const session = require('express-session');
  const common = { name: 'sid', secret: 'a bench secret of some length', resave: false, saveUninitialized: false, rolling: true, cookie };
  if (side === 'connect-pg-simple') {
    const connectPgSimple = require('connect-pg-simple');
    const store = new (connectPgSimple(session))({
      pool: countingPool({ user: 'legacy', database: 'legacy' }), tableName: 'user_sessions',
      createTableIfMissing: true, pruneSessionInterval: false,
    });
    return session({ store, ...common });
  }
  if (side === 'connect-redis') {
    const { createClient } = require('redis');
    const { RedisStore } = require('connect-redis');
    const client = createClient({ socket: { path: `${dir}/redis.sock` } });
    await client.connect();
    return session({ store: new RedisStore({ client, prefix: 'sess:' }), ...common });
  }
  throw new Error(`unknown side ${side}`);
}

async function main() {
  const app = express();
  app.use(express.json());
  app.get('/__count', (req, res) => res.json({ calls }));
  app.use(await sessionLayer());

  const requireAuth = (req, res, next) =>
    (req.session && req.session.userId ? next() : res.status(401).json({ error: 'Unauthorized' }));

  // the login page, where csrf: true's sessions start (a session for its token)
  app.get('/login', (req, res, next) => {
    req.session.visited = true;
    req.session.save((err) => (err ? next(err) : res.json({ csrf: req.csrfToken ? req.csrfToken() : null })));
  });
  // workload 3: a login (regenerate, then save)
  app.post('/api/login', (req, res, next) => {
    const id = Number(String(req.body.username).replace(/\D/g, ''));
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = id;
      req.session.role = 'member';
      req.session.save((e) => (e ? next(e) : res.json({ user: { id } })));
    });
  });
  // workload 1: an authenticated read, rolling expiry (with csrf: true,
  // giving the page its token, as a page with a form does)
  app.get('/api/me', requireAuth, (req, res) => res.json({ userId: req.session.userId, role: req.session.role,
    csrf: req.csrfToken ? req.csrfToken() : undefined }));
  // workload 2: a GET that changes one key
  app.get('/api/visit', requireAuth, (req, res) => {
    req.session.visits = (req.session.visits || 0) + 1;
    res.json({ visits: req.session.visits });
  });
  // workload 4: anonymous, stores nothing
  app.get('/public', (req, res) => res.json({ hello: 'world' }));
  // workload 5: add one cart item (each item its own top-level key: a
  // merge is shallow)
  app.post('/api/cart/:item', requireAuth, (req, res) => {
    req.session[`cart:${req.params.item}`] = 1;
    res.json({ ok: true });
  });
  app.get('/api/cart', requireAuth, (req, res) =>
    res.json(Object.keys(req.session).filter((k) => k.startsWith('cart:')).map((k) => k.slice(5)).sort()));
  app.use((err, req, res, next) => res.status(500).json({ error: err.message }));

  app.listen(Number(port), '127.0.0.1', () => process.send && process.send('ready'));
}

process.on('SIGINT', () => process.exit(0));
main().catch((e) => { console.error(e); process.exit(1); });
