'use strict';
/*
 * session-express: Express middleware that keeps req.session in PostgreSQL
 * with the `session` extension.  It offers express-session's req.session
 * interface, but it is not an express-session Store: the token is made and
 * signed inside the database, and one call (session_touch) validates it and
 * rolls its expiry.
 *
 * Per request: no database call without a cookie; one session_touch with
 * one; a change writes only the properties that changed (session_merge),
 * and a new session is created only when something is stored in it.  The
 * touches, merges and creates of requests that arrive together share one
 * statement (Batcher).  The response is held at its first write until
 * those writes are done, so the cookie of a new session goes out with the
 * headers.
 */

const net = require('node:net');

const DEFAULTS = {
  name: 'sid',
  userKey: 'userId',
  regenerateKeepsData: false,
  rolling: true,
  timeout: 5000,
};

const COOKIE_DEFAULTS = {
  httpOnly: true,
  secure: 'auto',
  sameSite: 'lax',
  path: '/',
  domain: undefined,
  priority: undefined,
  partitioned: false,
};

/* Our options, and express-session's that mean the same here. */
const OPTIONS = new Set(['pool', 'schema', 'name', 'userKey', 'regenerateKeepsData', 'rolling', 'timeout',
  'idleTimeout', 'absoluteTimeout', 'cookie', 'saveUninitialized', 'unset', 'proxy', 'secret', 'resave',
  'maxSessionsPerUser', 'onSessionLimit', 'csrf']);
const COOKIE_OPTIONS = new Set(['httpOnly', 'secure', 'sameSite', 'path', 'domain', 'maxAge', 'priority',
  'partitioned']);

/*
 * express-session options that cannot mean anything here, refused at
 * start-up with what to do instead (never silently ignored).
 */
const REFUSED = {
  store: 'this middleware is the store: sessions are kept by the session extension in the pool\'s database',
  genid: 'session ids are made and signed inside the database (session_create); there is no id to generate',
};
/* csurf's options, as csrf: { ... } takes them */
const CSRF_OPTIONS = new Set(['ignoreMethods', 'value']);
const REFUSED_CSRF = {
  cookie: 'the CSRF token is derived from the session inside the database; there is no secret to keep in a cookie',
  sessionKey: 'the CSRF token is derived from the session inside the database; nothing is kept in the session',
};
const REFUSED_COOKIE = {
  expires: 'a fixed cookie.expires would end every session at the same moment; use cookie.maxAge (or idleTimeout)',
};

class SessionStoreError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = 'SessionStoreError';
    this.code = options && options.code ? options.code : 'ESESSIONSTORE';
  }
}

function ident(name) {
  if (!/^[a-z_][a-z0-9_$]*$/i.test(name)) {
    throw new TypeError(`session-express: schema must be a plain SQL identifier, not ${JSON.stringify(name)}`);
  }
  return `"${name}".`;
}

function intervalOf(ms, what) {
  if (ms === undefined || ms === null) return null;
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new TypeError(`session-express: ${what} must be a positive number of milliseconds`);
  }
  return `${Math.round(ms)} milliseconds`;
}

function getPath(obj, path) {
  let v = obj;
  for (const part of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = v[part];
  }
  return v;
}

/*
 * The user id in a session's data, as the database's user_id: a string, or
 * null.  A user id that is an object (passport's serializeUser giving
 * { id, username } at "passport.user") is refused when writing (strict):
 * it would store every such user as "[object Object]".
 */
function userIdOf(ctx, data, strict) {
  const v = ctx.userOf(data);
  if (v === undefined || v === null) return null;
  if (typeof v === 'object' || typeof v === 'function') {
    if (!strict) return null;
    throw new SessionStoreError(`session store: the user id at userKey ${ctx.userKey} is ${Array.isArray(v) ? 'an array' : `a${typeof v === 'object' ? 'n object' : ' function'}`}, ` +
      'not a string or number; give userKey the path to the id (as "passport.user.id") or a function of the session',
    { code: 'ESESSIONUSERKEY' });
  }
  return String(v);
}

function parseCookies(header) {
  const out = Object.create(null);
  if (!header) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim();
    if (!(k in out)) out[k] = part.slice(eq + 1).trim();
  }
  return out;
}

const CLIENT_VERSION = require('./package.json').version;
/* what this client calls: session_merge(token, patch, remove) and session_set_idle_timeout */
const NEEDS = { session: [1, 4], session_proxy: [1, 1] };
const VERSION_SQL = `SELECT extname, extversion FROM pg_catalog.pg_extension
  WHERE extname OPERATOR(pg_catalog.=) ANY ('{session,session_proxy}'::text[])`;

/* What is wrong with the extensions a database has (rows of VERSION_SQL), or null. */
function versionProblem(rows) {
  const found = rows.map((r) => {
    const v = String(r.extversion).split('.').map(Number);
    const need = NEEDS[r.extname];
    const ok = v[0] > need[0] || (v[0] === need[0] && v[1] >= need[1]);
    return { ok, text: `${r.extname} ${r.extversion} (needs ${need.join('.')} or newer)` };
  });
  if (found.some((f) => f.ok)) return null;
  if (found.length === 0) {
    return 'this database has neither the session extension nor the session_proxy router (CREATE EXTENSION session)';
  }
  return `this database's extension is too old: ${found.map((f) => f.text).join(', ')}; ` +
    'run ALTER EXTENSION ... UPDATE (see CHANGELOG.md)';
}

/* The SQL of the calls sent one at a time, schema-qualified when asked. */
function statements(schema, limited, csrf) {
  const s = schema ? ident(schema) : '';
  /* with csrf, a new token comes with its CSRF token (1.6) */
  const token = csrf ? `t AS token, ${s}session_csrf_token(t) AS csrf` : 't AS token';
  return {
    regenerate: `SELECT ${token} FROM ${s}session_regenerate($1, $2) AS t`,
    // a login (another user): with the app's own limit, 1.6's form
    login: limited
      ? `SELECT ${token} FROM ${s}session_regenerate($1, $2, $3::int, $4) AS t`
      : `SELECT ${token} FROM ${s}session_regenerate($1, $2) AS t`,
    bind: `SELECT user_id FROM ${s}session_bind($1)`,
    setIdle: `SELECT ${s}session_set_idle_timeout($1, $2::interval) AS expires_at`,
    destroy: `SELECT ${s}session_destroy($1) AS ended`,
    destroyUser: `SELECT ${s}session_destroy_user($1, $2) AS ended`,
    // every column: from extension 1.6 on these include each session's
    // handle and when it was last used
    list: `SELECT * FROM ${s}session_list($1)`,
    destroyHandle: `SELECT ${s}session_destroy_handle($1, $2) AS ended`,
  };
}

/*
 * The calls every request makes, as statements that take a batch: the
 * items are one JSON array, and each result row carries its item's
 * position (i, from 1).  A touch of a bad or expired token has no row.
 * Touches and merges are sent in token order, so that two statements that
 * both update the same rows lock them in the same order.  With csrf, a
 * touch's item is [token, the CSRF token the request sent, or null]: its
 * row carries the session's CSRF token (csrf) and whether the one sent is
 * it (csrf_ok, null when none was sent), and a create's row its new CSRF
 * token, so that checking costs no round trip of its own.
 */
function batchStatements(schema, limited, csrf) {
  const s = schema ? ident(schema) : '';
  /* with the app's own per-user limit, 1.6's session_create */
  const limit = limited ? ', (b.v->>4)::int, b.v->>5' : '';
  const touchCsrf = csrf
    ? `, ${s}session_csrf_token(b.v->>0) AS csrf,
                    CASE WHEN b.v->>1 IS NOT NULL THEN ${s}session_csrf_check(b.v->>0, b.v->>1) END AS csrf_ok`
    : '';
  return {
    touch: {
      ordered: true,
      text: `SELECT b.i::int AS i, r.user_id, r.data, r.created_at, r.expires_at, r.absolute_expires_at${touchCsrf}
               FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b(v, i),
                    LATERAL ${s}session_touch(b.v->>0) AS r`,
    },
    merge: {
      ordered: true,
      text: `SELECT b.i::int AS i,
                    ${s}session_merge(b.v->>0, b.v->1, ARRAY(SELECT jsonb_array_elements_text(b.v->2))) AS data
               FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b(v, i)`,
    },
    create: {
      ordered: false,
      text: `SELECT b.i::int AS i, c.token, r.expires_at, r.absolute_expires_at, r.created_at${csrf ? `,
                    ${s}session_csrf_token(c.token) AS csrf` : ''}
               FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b(v, i),
                    LATERAL ${s}session_create(b.v->>0, b.v->1, (b.v->>2)::interval,
                                               (b.v->>3)::interval${limit}) AS c(token),
                    LATERAL ${s}session_get(c.token) AS r`,
    },
  };
}

/* The most items one statement carries. */
const BATCH_MAX = 200;

/*
 * Calls of one kind made in the same turn of the event loop (by the
 * requests that arrived together) go to the database as one statement:
 * under load that is one round trip, one socket write and one commit for
 * many requests, where the socket write of each round trip alone costs the
 * Node process about 70 us of CPU.  The statement is one transaction, so
 * if the server refuses it (any item raising an error, or a deadlock) each
 * item is sent again alone and gets its own result or error; a failure to
 * reach the database fails them all.
 */
class Batcher {
  constructor(ctx, spec) {
    this.ctx = ctx;
    this.spec = spec;
    this.open = null;
  }

  /*
   * The result row of one item (undefined if it has none).  Through a
   * session_proxy router each item is its own statement: PL/Proxy commits
   * each remote call by itself, so a batch that failed part-way would have
   * written its first items, and sending them again would write them twice;
   * alone, an item is one call on one shard, whole or not at all, and a
   * shard that is down fails only its own items.
   */
  call(item) {
    return this.ctx.checkVersion().then(() => (this.ctx.router ? this.alone(item) : this.queued(item)));
  }

  alone(item) {
    return new Promise((resolve, reject) => this.send([{ item, resolve, reject }]));
  }

  queued(item) {
    return new Promise((resolve, reject) => {
      if (this.open === null) {
        const batch = [];
        this.open = batch;
        setImmediate(() => {
          if (this.open === batch) this.open = null;
          this.send(batch);
        });
      }
      this.open.push({ item, resolve, reject });
      if (this.open.length >= BATCH_MAX) this.open = null;
    });
  }

  async send(batch) {
    if (this.spec.ordered && batch.length > 1) {
      batch.sort((a, b) => (a.item[0] < b.item[0] ? -1 : a.item[0] > b.item[0] ? 1 : 0));
    }
    let rows;
    try {
      rows = await this.ctx.query(this.spec.text, [JSON.stringify(batch.map((c) => c.item))]);
    } catch (err) {
      if (batch.length > 1 && refusedByServer(err)) {
        for (const c of batch) this.send([c]);
      } else {
        for (const c of batch) c.reject(err);
      }
      return;
    }
    const byItem = new Array(batch.length);
    for (const r of rows) byItem[r.i - 1] = r;
    for (let k = 0; k < batch.length; k++) batch[k].resolve(byItem[k]);
  }
}

const TIMED_OUT = Symbol('timed out');

/* The promise's value, or TIMED_OUT after ms (its rejection passes through). */
function within(promise, ms) {
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, ms, TIMED_OUT); });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function timedOut(ms, outcome, what) {
  const err = new SessionStoreError(`session store: no answer from the database within ${ms} ms; ${what}`,
    { code: 'ESESSIONTIMEOUT' });
  err.outcome = outcome;
  return err;
}

/*
 * Rethrow err from a call that needs a newer extension than the version
 * check asks for: a function the database does not have (42883) is
 * ESESSIONVERSION naming the version needed.
 */
function newerError(err, call, version) {
  if (err.code !== '42883') throw err;
  throw new SessionStoreError(`session-express: ${call} needs the session extension ${version} or newer (${err.message})`,
    { cause: err, code: 'ESESSIONVERSION' });
}

/*
 * A login refused by the per-user limit (SQLSTATE 53400, onSessionLimit
 * 'refuse' or the database's session.on_session_limit) is ESESSIONLIMIT.
 */
function limitError(err) {
  if (err && err.code === '53400') {
    throw new SessionStoreError(`session-express: ${(err.cause && err.cause.message) || err.message}`,
      { cause: err.cause || err, code: 'ESESSIONLIMIT' });
  }
  throw err;
}

/*
 * A request refused for its CSRF token: csurf's error (403, code
 * EBADCSRFTOKEN), so that an app's error handler written for csurf keeps
 * working.
 */
function csrfError() {
  const err = new SessionStoreError('invalid csrf token', { code: 'EBADCSRFTOKEN' });
  err.status = 403;
  err.statusCode = 403;
  err.expose = true;
  return err;
}

/* A form's body, where a _csrf field would be. */
const FORM = /^\s*(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

/* The longest CSRF token sent to the database: ours are 43 characters. */
const CSRF_MAX = 256;

/*
 * The CSRF token a request sends, as csurf reads it (less the query
 * string, where a token ends up in logs and Referer headers): the _csrf
 * field of the parsed body, or the csrf-token, xsrf-token, x-csrf-token or
 * x-xsrf-token header.
 */
function csrfSent(req) {
  const body = req.body;
  if (body && typeof body === 'object' && typeof body._csrf === 'string' && body._csrf) return body._csrf;
  const h = req.headers;
  return h['csrf-token'] || h['xsrf-token'] || h['x-csrf-token'] || h['x-xsrf-token'] || null;
}

/* csrf: true, or csurf's { ignoreMethods, value }: what the middleware checks, or null. */
function csrfOptions(csrf) {
  if (csrf === undefined || csrf === null || csrf === false) return null;
  const given = csrf === true ? {} : csrf;
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new TypeError(`session-express: csrf must be true, false or an object of options, not ${JSON.stringify(csrf)}`);
  }
  for (const k of Object.keys(given)) {
    if (REFUSED_CSRF[k]) throw new TypeError(`session-express: csrf.${k} is not supported: ${REFUSED_CSRF[k]}`);
    if (!CSRF_OPTIONS.has(k)) throw new TypeError(`session-express: unknown csrf option ${k}`);
  }
  const ignore = given.ignoreMethods === undefined ? ['GET', 'HEAD', 'OPTIONS'] : given.ignoreMethods;
  if (!Array.isArray(ignore) || !ignore.every((m) => typeof m === 'string')) {
    throw new TypeError('session-express: csrf.ignoreMethods must be an array of method names');
  }
  if (given.value !== undefined && typeof given.value !== 'function') {
    throw new TypeError('session-express: csrf.value must be a function of the request giving its CSRF token');
  }
  return { ignore: new Set(ignore.map((m) => m.toUpperCase())), value: given.value || csrfSent };
}

function storeError(err) {
  if (err instanceof SessionStoreError) return err;
  return new SessionStoreError(`session store: ${err.message}`, { cause: err, code: err.code });
}

/*
 * Ask the server to cancel what a pg client's connection is running: the
 * protocol's CancelRequest (its backend's pid and key) on a new connection
 * to the same host and port, as libpq's PQcancel.  Not awaited: a frozen
 * server never closes it, and the socket is closed after ms.
 */
function sendCancel(client, ms) {
  const pid = client.processID;
  const key = client.secretKey;
  if (typeof pid !== 'number' || key === null || key === undefined) return;
  const keyBytes = Buffer.isBuffer(key) ? key : Buffer.alloc(4);
  if (!Buffer.isBuffer(key)) keyBytes.writeInt32BE(key);
  const msg = Buffer.alloc(12 + keyBytes.length);
  msg.writeInt32BE(msg.length, 0);
  msg.writeInt32BE(80877102, 4);
  msg.writeInt32BE(pid, 8);
  keyBytes.copy(msg, 12);
  const host = client.host || 'localhost';
  const where = host.startsWith('/') ? { path: `${host}/.s.PGSQL.${client.port}` } : { host, port: client.port };
  /* as libpq: write, then wait for the server to close (pgbouncer 1.18 dies of a cancel client closing first) */
  const sock = net.connect(where, () => sock.write(msg));
  sock.on('data', () => {});
  sock.on('end', () => sock.destroy());
  sock.on('error', () => {});
  sock.setTimeout(ms, () => sock.destroy());
}

/*
 * An error the server raised for the statement (it ran, and rolled back),
 * not a lost connection, a server shutting down or out of connections, or
 * a timeout.
 */
function refusedByServer(err) {
  const cause = err.cause;
  return Boolean(cause && cause.severity && typeof err.code === 'string' &&
    !/^(08|53|57)/.test(err.code));
}

class Cookie {
  constructor(opts, secure, defaultMaxAge) {
    Object.defineProperty(this, '_expires', { value: null, writable: true });
    Object.defineProperty(this, '_maxAgeWanted', { value: undefined, writable: true });
    Object.defineProperty(this, '_maxAgeApplied', { value: undefined, writable: true });
    Object.defineProperty(this, '_default', { value: defaultMaxAge === undefined ? null : defaultMaxAge });
    Object.defineProperty(this, '_browserSession', { value: false, writable: true });
    this.httpOnly = opts.httpOnly;
    this.secure = secure;
    this.sameSite = opts.sameSite;
    this.path = opts.path;
    this.domain = opts.domain;
    if (opts.priority) this.priority = opts.priority;
    if (opts.partitioned) this.partitioned = true;
    this.originalMaxAge = this._default;
  }

  /* When the session ends, as the database says (idle or absolute); null before it exists. */
  get expires() {
    return this._expires;
  }

  /*
   * A session's own lifetime, as express-session's cookie.expires: a Date
   * gives the time left as its idle timeout (session_set_idle_timeout on a
   * stored session, at the end of the request); null makes it a
   * browser-session cookie (the database's idle timeout still ends it).
   */
  set expires(value) {
    if (value === null) {
      this._browserSession = true;
      return;
    }
    const d = value instanceof Date ? value : new Date(NaN);
    if (Number.isNaN(d.getTime()) || d.getTime() <= Date.now()) {
      throw new TypeError('session-express: cookie.expires must be a Date in the future, or null');
    }
    this.maxAge = d.getTime() - Date.now();
  }

  /* Milliseconds left, or, before the session exists, what it will get. */
  get maxAge() {
    if (this._maxAgeWanted !== undefined && this._maxAgeWanted !== this._maxAgeApplied) return this._maxAgeWanted;
    if (this._expires) return Math.max(0, this._expires.getTime() - Date.now());
    return this._maxAgeWanted === undefined ? this._default : this._maxAgeWanted;
  }

  /*
   * This session's idle timeout, in milliseconds: for a new session the one
   * it is created with, for a stored one its new timeout from the end of the
   * request (session_set_idle_timeout).  null: a browser-session cookie.
   */
  set maxAge(ms) {
    if (ms === null) {
      this._browserSession = true;
      return;
    }
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
      throw new TypeError('session-express: cookie.maxAge must be a positive number of milliseconds, or null');
    }
    this._maxAgeWanted = ms;
    this._browserSession = false;
    if (!this._expires) this.originalMaxAge = ms;
  }

  toJSON() {
    return {
      originalMaxAge: this.originalMaxAge,
      expires: this.expires,
      httpOnly: this.httpOnly,
      secure: this.secure,
      sameSite: this.sameSite,
      path: this.path,
      domain: this.domain,
    };
  }
}

/* What one request's session is in the database, private to the middleware. */
class State {
  constructor(ctx, req) {
    this.ctx = ctx;
    this.req = req;
    this.token = null;        /* the session's token, once it exists */
    this.orig = new Map();    /* property -> JSON as stored */
    this.origUser = null;
    this.sendCookie = false;  /* Set-Cookie with the token */
    this.clearCookie = false; /* the client has a cookie that is no longer good */
    this.destroyed = false;
    this.csrf = null;         /* with csrf: the token's CSRF token, as the database gave it */
  }
}

const STATE = Symbol('session-express state');
/* the session the middleware gave the request (for unset: 'destroy') */
const LOADED = Symbol('session-express loaded');

class Session {
  constructor(state, data) {
    Object.defineProperty(this, STATE, { value: state, writable: true });
    Object.defineProperty(this, 'cookie', {
      value: new Cookie(state.ctx.cookie, state.ctx.secureFor(state.req), state.ctx.idleMs),
      writable: true,
      enumerable: false,
    });
    if (data) Object.assign(this, data);
  }

  /* The token, or undefined while nothing is stored (lazy creation). */
  get id() {
    return this[STATE].token || undefined;
  }

  touch() {
    this[STATE].sendCookie = Boolean(this[STATE].token);
    return this;
  }

  save(cb) {
    return callbackify(this[STATE].ctx.save(this), cb);
  }

  regenerate(cb) {
    return callbackify(this[STATE].ctx.regenerate(this[STATE].req), cb);
  }

  destroy(cb) {
    return callbackify(this[STATE].ctx.destroy(this[STATE].req), cb);
  }

  reload(cb) {
    return callbackify(this[STATE].ctx.reload(this[STATE].req), cb);
  }

  /*
   * fn(client) in one transaction on a client of the pool, with this
   * session bound to it (session_bind, extension 1.5), so that row-level
   * security policies reading session_bound_user() see this session's
   * user: resolves to what fn resolves to, after COMMIT; an error rolls
   * back and rejects with it.
   */
  withDatabase(fn) {
    return this[STATE].ctx.withDatabase(this[STATE], fn);
  }
}

function callbackify(promise, cb) {
  if (typeof cb !== 'function') return promise;
  promise.then(() => cb(), (err) => cb(err));
  return undefined;
}

/* The session as it would be stored: each property's JSON (undefined and functions dropped) and value. */
function storedForm(sess) {
  const data = {};
  const json = new Map();
  for (const k of Object.keys(sess)) {
    const j = JSON.stringify(sess[k]);
    if (j !== undefined) {
      json.set(k, j);
      data[k] = JSON.parse(j);
    }
  }
  return { data, json };
}

/* Remember data as stored (json: its properties' JSON, if already made). */
function snapshot(state, data, json) {
  state.orig = json || new Map(Object.keys(data).map((k) => [k, JSON.stringify(data[k])]));
  state.origUser = userIdOf(state.ctx, data, false);
}

function cookieHeader(ctx, name, value, cookie, maxAgeSeconds) {
  const parts = [`${name}=${value}`];
  if (maxAgeSeconds !== undefined) {
    parts.push(`Max-Age=${maxAgeSeconds}`);
    parts.push(`Expires=${new Date(Date.now() + maxAgeSeconds * 1000).toUTCString()}`);
  }
  if (cookie.domain) parts.push(`Domain=${cookie.domain}`);
  if (cookie.priority) parts.push(`Priority=${String(cookie.priority).charAt(0).toUpperCase()}${String(cookie.priority).slice(1).toLowerCase()}`);
  if (cookie.partitioned) parts.push('Partitioned');
  if (cookie.path) parts.push(`Path=${cookie.path}`);
  if (cookie.httpOnly) parts.push('HttpOnly');
  if (cookie.secure) parts.push('Secure');
  if (cookie.sameSite) {
    const s = cookie.sameSite === true ? 'Strict' : String(cookie.sameSite);
    parts.push(`SameSite=${s.charAt(0).toUpperCase()}${s.slice(1).toLowerCase()}`);
  }
  return parts.join('; ');
}

function appendSetCookie(res, value) {
  const prev = res.getHeader('Set-Cookie');
  if (prev === undefined) res.setHeader('Set-Cookie', value);
  else res.setHeader('Set-Cookie', [].concat(prev, value));
}

/*
 * The options, checked: anything unknown or refused is an error at
 * start-up; express-session's `secret` and `resave: true` have no effect
 * here and say so once.
 */
function checkOptions(options) {
  for (const k of Object.keys(options)) {
    if (REFUSED[k]) throw new TypeError(`session-express: the ${k} option is not supported: ${REFUSED[k]}`);
    if (!OPTIONS.has(k)) throw new TypeError(`session-express: unknown option ${k}`);
  }
  const cookie = options.cookie || {};
  for (const k of Object.keys(cookie)) {
    if (REFUSED_COOKIE[k]) throw new TypeError(`session-express: cookie.${k} is not supported: ${REFUSED_COOKIE[k]}`);
    if (!COOKIE_OPTIONS.has(k)) throw new TypeError(`session-express: unknown cookie option ${k}`);
  }
  if (cookie.maxAge !== undefined && cookie.maxAge !== null && options.idleTimeout !== undefined &&
      cookie.maxAge !== options.idleTimeout) {
    throw new TypeError('session-express: cookie.maxAge and idleTimeout are the same setting (the idle timeout); give one');
  }
  if (options.unset !== undefined && options.unset !== 'keep' && options.unset !== 'destroy') {
    throw new TypeError(`session-express: unset must be 'keep' or 'destroy', not ${JSON.stringify(options.unset)}`);
  }
  const max = options.maxSessionsPerUser;
  if (max !== undefined && max !== null && !(Number.isInteger(max) && max >= 0 && max <= 2147483647)) {
    throw new TypeError(`session-express: maxSessionsPerUser must be an integer of 0 (no limit) or more, not ${JSON.stringify(max)}`);
  }
  const on = options.onSessionLimit;
  if (on !== undefined && on !== null && on !== 'evict' && on !== 'refuse') {
    throw new TypeError(`session-express: onSessionLimit must be 'evict' or 'refuse', not ${JSON.stringify(on)}`);
  }
  csrfOptions(options.csrf);
  if (options.secret !== undefined) {
    warnOnce('secret', 'session-express: the secret option is not used: tokens are signed inside the database, ' +
      'with keys that never leave it');
  }
  if (options.resave === true) {
    warnOnce('resave', 'session-express: resave: true has no effect: an unchanged session is never written back ' +
      '(its expiry rolls in the database on each touch)');
  }
}

const warned = new Set();
function warnOnce(key, message) {
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(message, { code: 'SESSION_EXPRESS_OPTION' });
}

/* userKey: a dotted path to the user id in the session, or a function of the session's data. */
function userGetter(userKey) {
  if (typeof userKey === 'function') return userKey;
  if (typeof userKey !== 'string' || userKey === '') {
    throw new TypeError('session-express: userKey must be a dotted path (e.g. "passport.user.id") or a function');
  }
  const path = userKey.split('.');
  return (data) => getPath(data, path);
}

class Context {
  constructor(options) {
    checkOptions(options);
    const opts = { ...DEFAULTS, ...options };
    if (!opts.pool || typeof opts.pool.query !== 'function') {
      throw new TypeError('session-express: the pool option (a pg Pool, or anything with query()) is required');
    }
    this.pool = opts.pool;
    this.name = opts.name;
    this.userKey = typeof opts.userKey === 'string' ? opts.userKey : 'userKey';
    this.userOf = userGetter(opts.userKey);
    this.regenerateKeepsData = Boolean(opts.regenerateKeepsData);
    this.rolling = opts.rolling !== false;
    this.saveUninitialized = opts.saveUninitialized === true;
    this.unset = opts.unset || 'keep';
    this.proxy = opts.proxy;
    this.timeout = opts.timeout;
    const cookieOpts = opts.cookie || {};
    /* cookie.maxAge is express-session's way of giving the idle timeout */
    this.idleMs = cookieOpts.maxAge !== undefined && cookieOpts.maxAge !== null ? cookieOpts.maxAge : opts.idleTimeout;
    this.idle = intervalOf(this.idleMs, cookieOpts.maxAge !== undefined ? 'cookie.maxAge' : 'idleTimeout');
    this.absolute = intervalOf(opts.absoluteTimeout, 'absoluteTimeout');
    this.cookie = { ...COOKIE_DEFAULTS, ...cookieOpts };
    /* cookie.maxAge: null is a browser-session cookie (the database's idle timeout still ends it) */
    this.browserSession = cookieOpts.maxAge === null;
    delete this.cookie.maxAge;
    this.attachPoolErrorHandler();
    /* the per-user limit the app asked for (extension 1.6), or the database's settings */
    this.limited = (opts.maxSessionsPerUser ?? null) !== null || (opts.onSessionLimit ?? null) !== null;
    this.limit = [opts.maxSessionsPerUser ?? null, opts.onSessionLimit ?? null];
    this.csrf = csrfOptions(opts.csrf);
    this.sql = statements(opts.schema, this.limited, Boolean(this.csrf));
    const batches = batchStatements(opts.schema, this.limited, Boolean(this.csrf));
    this.touch = new Batcher(this, batches.touch);
    this.merge = new Batcher(this, batches.merge);
    this.create = new Batcher(this, batches.create);
  }

  /*
   * secure: 'auto' is Secure when the request is: with proxy: true as
   * X-Forwarded-Proto says, with proxy: false only over a direct TLS
   * connection, and otherwise as Express's req.secure (its trust proxy).
   */
  secureFor(req) {
    const s = this.cookie.secure;
    if (s !== 'auto') return Boolean(s);
    const tls = Boolean(req.socket && req.socket.encrypted);
    if (this.proxy === true) {
      const proto = String(req.headers['x-forwarded-proto'] || '').split(',')[0].trim().toLowerCase();
      return proto ? proto === 'https' : tls;
    }
    if (this.proxy === false) return tls;
    return Boolean(req.secure || tls);
  }

  /*
   * A pg Pool emits 'error' when the database ends one of its idle
   * connections (a restart, a failover, idle_session_timeout), and an
   * 'error' with no listener ends the process.  Unless the app listens
   * itself, say so and go on: the pool opens a new connection when needed.
   */
  attachPoolErrorHandler() {
    const pool = this.pool;
    if (typeof pool.on !== 'function' || typeof pool.listenerCount !== 'function') return;
    if (pool.listenerCount('error') > 0) return;
    pool.on('error', (err) => {
      process.emitWarning(`session-express: the database closed an idle pooled connection (${err.message}); ` +
        'the pool opens a new one when needed', { code: 'SESSION_EXPRESS_POOL' });
    });
  }

  /*
   * The first call on this pool checks that the database has an extension
   * this client can speak to, once (a failed check is tried again at the
   * next call): otherwise a too-old extension shows up later, in some
   * request, as "function ... does not exist".
   */
  checkVersion() {
    if (!this.versionChecked) {
      this.versionChecked = this.run(VERSION_SQL).then((rows) => {
        const has = (name) => rows.some((r) => r.extname === name);
        this.router = has('session_proxy') && !has('session');
        return versionProblem(rows) || this.csrfProblem(rows);
      }).then((problem) => {
        if (problem) throw new SessionStoreError(`session-express ${CLIENT_VERSION}: ${problem}`, { code: 'ESESSIONVERSION' });
      });
      this.versionChecked.catch(() => { this.versionChecked = null; });
    }
    return this.versionChecked;
  }

  /* What stops csrf: true on this database (rows of VERSION_SQL), or null. */
  csrfProblem(rows) {
    if (!this.csrf) return null;
    if (this.router) return 'csrf: true needs the session extension itself: a session_proxy router has no CSRF functions';
    const v = String(rows.find((r) => r.extname === 'session').extversion).split('.').map(Number);
    if (v[0] > 1 || (v[0] === 1 && v[1] >= 6)) return null;
    return `csrf: true needs the session extension 1.6 or newer (this database has ${v.join('.')}); ` +
      'run ALTER EXTENSION session UPDATE';
  }

  async query(text, params) {
    await this.checkVersion();
    return this.run(text, params);
  }

  /*
   * One statement, answered within `timeout` ms or with its outcome known,
   * so that a request is never reported failed for a write that committed.
   * Still running when the time is up, the statement is cancelled (a
   * CancelRequest, as psql's ^C; pgbouncer passes it on) and its end
   * awaited, at most `timeout` ms more: cancelled, it rolled back
   * (ESESSIONTIMEOUT, outcome 'cancelled'); finished anyway (a commit
   * waiting for a synchronous standby is not undone by a cancel), its
   * result is the answer.  Only if the server does not end it even then (a
   * frozen host) is the outcome unknown ('unknown'); that connection is
   * dropped.  No connection from the pool in time: nothing was sent
   * ('not-sent').  A connection that was sent a cancel is never reused (a
   * late cancel would hit its next statement).
   */
  async run(text, params) {
    if (typeof this.pool.connect !== 'function') return this.runOnQuery(text, params);
    const start = Date.now();
    const acquiring = this.pool.connect();
    const got = await within(acquiring, this.timeout).catch((err) => { throw storeError(err); });
    if (got === TIMED_OUT) {
      acquiring.then((c) => c.release(), () => {});
      throw timedOut(this.timeout, 'not-sent', 'nothing was sent (is the pool exhausted, or the database down?)');
    }
    const client = got;
    const settled = client.query(text, params).then((r) => ({ rows: r.rows }), (err) => ({ err }));
    let out = await within(settled, Math.max(0, this.timeout - (Date.now() - start)));
    const cancelled = out === TIMED_OUT;
    if (cancelled) {
      sendCancel(client, this.timeout);
      out = await within(settled, this.timeout);
      if (out === TIMED_OUT) {
        client.release(true);
        throw timedOut(this.timeout, 'unknown',
          'nor did it end when cancelled: its write may or may not have been applied (the connection is dropped)');
      }
    }
    client.release(cancelled || (out.err && !out.err.severity) ? true : undefined);
    if (!out.err) return out.rows;
    if (cancelled && out.err.code === '57014') {
      /* a router's cancelled statement may still run on its shard: PL/Proxy's remote calls are their own */
      if (this.router) {
        throw timedOut(this.timeout, 'unknown',
          'the router cancelled the statement, but its shard may still apply the write (the connection is dropped)');
      }
      throw timedOut(this.timeout, 'cancelled', 'the statement was cancelled and nothing was written');
    }
    throw storeError(out.err);
  }

  /* A pool with query() only: the same bound, but nothing to cancel, so the outcome is unknown. */
  async runOnQuery(text, params) {
    const running = this.pool.query(text, params);
    const out = await within(running, this.timeout).catch((err) => { throw storeError(err); });
    if (out === TIMED_OUT) {
      running.catch(() => {});
      throw timedOut(this.timeout, 'unknown', 'this pool has no connect(), so the statement could not be cancelled');
    }
    return out.rows;
  }

  setExpiry(sess, row) {
    const ends = [row.expires_at, row.absolute_expires_at].filter(Boolean).map((d) => new Date(d));
    const end = new Date(Math.min(...ends.map((d) => d.getTime())));
    sess.cookie._expires = end;
    if (row.created_at) sess.cookie.originalMaxAge = end.getTime() - new Date(row.created_at).getTime();
  }

  fresh(req) {
    const state = new State(this, req);
    const sess = new Session(state);
    req.session = sess;
    req.sessionID = undefined;
    return sess;
  }

  /*
   * The session of the request's token, rolled; with csrf, sent: the CSRF
   * token the request sent, checked in the same statement.  Resolves to
   * whether that check passed (false without a live session).
   */
  async load(req, token, sent) {
    const row = await this.touch.call(this.csrf ? [token, sent] : [token]);
    if (row === undefined) {
      const sess = this.fresh(req);
      sess[STATE].clearCookie = true;
      return false;
    }
    const state = new State(this, req);
    state.token = token;
    if (this.csrf) state.csrf = row.csrf;
    const sess = new Session(state, row.data);
    snapshot(state, row.data);
    this.setExpiry(sess, row);
    state.sendCookie = this.rolling;
    req.session = sess;
    req.sessionID = token;
    return row.csrf_ok === true;
  }

  /*
   * Write what changed (nothing if nothing did), then put the cookie in the
   * headers.  A session's writes go one after another, so a save() the
   * handler did not wait for and the one at the end of the request make one
   * session, not two.
   */
  async save(sess) {
    const state = sess[STATE];
    const run = (state.writing || Promise.resolve()).catch(() => {}).then(() => this.write(sess));
    state.writing = run;
    await run;
    this.emitCookie(state.req);
  }

  async write(sess) {
    const state = sess[STATE];
    const req = state.req;
    if (state.destroyed) return;
    const { data, json } = storedForm(sess);
    const user = userIdOf(this, data, true);
    const cookie = sess.cookie;
    if (!state.token) {
      if (Object.keys(data).length === 0 && !this.saveUninitialized) return;
      const idle = cookie._maxAgeWanted !== undefined ? intervalOf(cookie._maxAgeWanted, 'cookie.maxAge') : this.idle;
      const row = await this.create.call([user, data, idle, this.absolute, ...(this.limited ? this.limit : [])])
        .catch(limitError);
      state.token = row.token;
      state.csrf = row.csrf || null;
      req.sessionID = state.token;
      cookie._maxAgeApplied = cookie._maxAgeWanted;
      this.setExpiry(sess, row);
      snapshot(state, data, json);
      state.sendCookie = true;
      state.clearCookie = false;
      return;
    }
    if (cookie._maxAgeWanted !== undefined && cookie._maxAgeWanted !== cookie._maxAgeApplied) {
      /* req.session.cookie.maxAge (or expires) set on a stored session: its idle timeout from now on */
      const wanted = cookie._maxAgeWanted;
      const rows = await this.query(this.sql.setIdle, [state.token, intervalOf(wanted, 'cookie.maxAge')]);
      if (!rows[0].expires_at) return this.lost(sess);
      cookie._maxAgeApplied = wanted;
      cookie._expires = new Date(rows[0].expires_at);
      state.sendCookie = true;
    }
    if (user !== state.origUser && user !== null) {
      /* another user: the database's user_id follows, with a new token */
      const rows = await this.query(this.sql.login, [state.token, user, ...(this.limited ? this.limit : [])])
        .catch(limitError);
      if (!rows[0].token) return this.lost(sess);
      state.token = rows[0].token;
      state.csrf = rows[0].csrf || null;
      req.sessionID = state.token;
      state.origUser = user;
      state.sendCookie = true;
    }
    const patch = {};
    const removed = [];
    for (const [k, j] of json) {
      if (state.orig.get(k) !== j) patch[k] = data[k];
    }
    for (const k of state.orig.keys()) {
      if (!(k in data)) removed.push(k);
    }
    if (Object.keys(patch).length > 0 || removed.length > 0) {
      const row = await this.merge.call([state.token, patch, removed]);
      if (row.data === null) return this.lost(sess);
      snapshot(state, data, json);
      /* a changed session's cookie goes out again, rolling or not (express-session's rule) */
      state.sendCookie = true;
    }
  }

  /* The session ended elsewhere (destroyed, expired): never bring it back. */
  lost(sess) {
    const state = sess[STATE];
    state.token = null;
    state.destroyed = true;
    state.sendCookie = false;
    state.clearCookie = true;
    state.req.sessionID = undefined;
  }

  async regenerate(req) {
    const old = req.session;
    const state = old && old[STATE];
    if (state && state.token && this.regenerateKeepsData) {
      const rows = await this.query(this.sql.regenerate, [state.token, null]);
      if (rows[0].token) {
        state.token = rows[0].token;
        state.csrf = rows[0].csrf || null;
        req.sessionID = state.token;
        state.sendCookie = true;
        return;
      }
    } else if (state && state.token) {
      await this.query(this.sql.destroy, [state.token]);
    }
    const sess = this.fresh(req);
    sess[STATE].clearCookie = Boolean(state && (state.token || state.clearCookie));
  }

  async destroy(req, sess = req.session) {
    const state = sess && sess[STATE];
    if (state && state.token) await this.query(this.sql.destroy, [state.token]);
    if (state) {
      state.clearCookie = Boolean(state.token || state.clearCookie);
      state.token = null;
      state.destroyed = true;
      state.sendCookie = false;
    }
    req.sessionID = undefined;
    this.emitCookie(req, state);
    delete req.session;
    /* the response still needs the state for its cookie */
    req[STATE] = state;
  }

  async withDatabase(state, fn) {
    if (typeof fn !== 'function') {
      throw new TypeError('session-express: withDatabase(fn) takes a function of a pg client');
    }
    if (typeof this.pool.connect !== 'function') {
      throw new TypeError('session-express: withDatabase needs a pool with connect() (a pg Pool)');
    }
    if (!state.token || state.destroyed) {
      throw new SessionStoreError('session-express: withDatabase needs a stored session (none is stored yet, or it ended)',
        { code: 'ESESSIONUNBOUND' });
    }
    await this.checkVersion();
    const client = await this.pool.connect();
    let broken;
    try {
      await client.query('BEGIN');
      let rows;
      try {
        ({ rows } = await client.query(this.sql.bind, [state.token]));
      } catch (err) {
        newerError(err, 'withDatabase', '1.5');
      }
      if (rows.length === 0) {
        throw new SessionStoreError('session-express: the session ended (expired or destroyed) before withDatabase',
          { code: 'ESESSIONUNBOUND' });
      }
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (e) {
        broken = e;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async reload(req) {
    const state = req.session && req.session[STATE];
    if (!state || !state.token) throw new SessionStoreError('session store: there is no stored session to reload', { code: 'ESESSIONNONE' });
    const row = await this.touch.call([state.token]);
    if (row === undefined) {
      this.lost(req.session);
      throw new SessionStoreError('session store: the session no longer exists', { code: 'ESESSIONGONE' });
    }
    for (const k of Object.keys(req.session)) delete req.session[k];
    Object.assign(req.session, row.data);
    snapshot(state, row.data);
    this.setExpiry(req.session, row);
  }

  /* Put the cookie the session's state calls for into the headers, if still open. */
  emitCookie(req, given) {
    const res = req[RESPONSE] || req.res;
    const state = given || (req.session && req.session[STATE]) || req[STATE];
    if (!state || !res || res.headersSent) return;
    const hold = res[HOLD];
    if (hold && hold.ended && !hold.committing) return;
    const current = res.getHeader('Set-Cookie');
    const mine = `${this.name}=`;
    if (current !== undefined) {
      const others = [].concat(current).filter((c) => !String(c).startsWith(mine));
      if (others.length === 0) res.removeHeader('Set-Cookie');
      else res.setHeader('Set-Cookie', others);
    }
    const cookie = req.session && req.session.cookie ? req.session.cookie : new Cookie(this.cookie, this.secureFor(req));
    if (state.token && state.sendCookie) {
      const left = Math.max(0, Math.floor(((cookie.expires || new Date()).getTime() - Date.now()) / 1000));
      const browserSession = this.browserSession ? cookie._maxAgeWanted === undefined : cookie._browserSession;
      appendSetCookie(res, cookieHeader(this, this.name, state.token, cookie, browserSession ? undefined : left));
    } else if (!state.token && state.clearCookie) {
      appendSetCookie(res, cookieHeader(this, this.name, '', cookie, 0));
    }
  }
}

/*
 * Hold the response's first write (write or end) until the session's
 * writes are done and its cookie is in the headers.  A database error
 * there goes to next(err) instead of the response.
 *
 * Once the handler has called end(), the response is ended, though its
 * bytes are still held: what the handler does to it after that (a header
 * set, a second end() or write()) is ignored, with a warning, and the
 * response goes out as it was ended.  Queued, a second end() with a body
 * would raise ERR_STREAM_WRITE_AFTER_END as an 'error' with no listener
 * and end the process; thrown, as Node throws ERR_HTTP_HEADERS_SENT once
 * headers are out, the error would reach Express's final handler, which
 * sets headers again (throwing where nothing catches it) or destroys the
 * socket of the response still held.
 */
const RESPONSE = Symbol('session-express response');
const HOLD = Symbol('session-express hold');
const HEADER_METHODS = ['setHeader', 'removeHeader', 'appendHeader', 'writeHead'];

function afterEnd(method) {
  warnOnce(`after-end-${method}`, `session-express: res.${method}() after res.end() is ignored ` +
    '(the response was ended; it goes out once the session is saved)');
}

function holdResponse(ctx, req, res, next) {
  const _write = res.write;
  const _end = res.end;
  let phase = 'open';   /* open -> committing -> done */
  const queue = [];
  const hold = { ended: false, committing: false };
  res[HOLD] = hold;
  req[RESPONSE] = res;

  for (const m of HEADER_METHODS) {
    const original = res[m];
    if (typeof original !== 'function') continue;
    res[m] = function guarded(...args) {
      if (hold.ended && !hold.committing && phase !== 'done') {
        afterEnd(m);
        return res;
      }
      return original.apply(res, args);
    };
  }

  function release() {
    phase = 'done';
    res.write = _write;
    res.end = _end;
  }

  function flush() {
    hold.committing = true;
    release();
    for (const [fn, args] of queue) fn.apply(res, args);
    hold.committing = false;
  }

  /* save() ends with the cookie; without a session (destroyed, or unset), its clearing */
  function work() {
    const sess = req.session;
    if (sess && sess[STATE]) return ctx.save(sess);
    const loaded = req[LOADED];
    if (ctx.unset === 'destroy' && loaded && loaded[STATE].token && !loaded[STATE].destroyed) {
      return ctx.destroy(req, loaded);
    }
    return Promise.resolve().then(() => ctx.emitCookie(req));
  }

  function commit(fn, args) {
    if (phase === 'done') return fn.apply(res, args);
    queue.push([fn, args]);
    if (phase === 'committing') return true;
    phase = 'committing';
    Promise.resolve().then(work).then(() => {
      /* the cookie goes into the headers now, whatever the handler did after end() */
      hold.committing = true;
      try {
        ctx.emitCookie(req);
      } finally {
        hold.committing = false;
      }
    }).then(flush, (err) => {
      hold.ended = false;
      release();
      next(err);
    });
    return true;
  }

  res.write = function write(...args) {
    if (hold.ended) {
      afterEnd('write');
      return false;
    }
    return commit(_write, args);
  };
  res.end = function end(...args) {
    if (hold.ended) {
      afterEnd('end');
      return res;
    }
    hold.ended = true;
    commit(_end, args);
    return res;
  };
}

/*
 * req.csrfToken() with csrf: the session's CSRF token, for a form's _csrf
 * field or an x-csrf-token header.  It is bound to the stored session, so
 * a request that has none yet (or whose login is not yet saved: a login
 * gives a new token) must save it first.
 */
function csrfTokenOf(ctx, req) {
  const sess = req.session;
  const state = sess && sess[STATE];
  if (!state || !state.token || state.destroyed || !state.csrf) {
    throw new SessionStoreError('session-express: csrfToken() needs a stored session: a CSRF token is bound to one; ' +
      'store something in req.session and await req.session.save() first', { code: 'ESESSIONCSRF' });
  }
  const user = userIdOf(ctx, sess, false);
  if (user !== null && user !== state.origUser) {
    throw new SessionStoreError('session-express: csrfToken() after a change of user: the login gives the session ' +
      'a new token, and a new CSRF token; await req.session.save() first', { code: 'ESESSIONCSRF' });
  }
  return state.csrf;
}

function session(options = {}) {
  const ctx = new Context(options);

  async function run(req, res, next) {
    if (req.session) return next();
    /* cookie-parser's req.cookies when the header has none */
    const token = parseCookies(req.headers.cookie)[ctx.name] || (req.cookies && req.cookies[ctx.name]) || undefined;
    holdResponse(ctx, req, res, next);
    if (!ctx.csrf) {
      if (token) await ctx.load(req, token);
      else ctx.fresh(req);
      req[LOADED] = req.session;
      return next();
    }
    req.csrfToken = () => csrfTokenOf(ctx, req);
    const checked = !ctx.csrf.ignore.has(req.method);
    const given = checked ? ctx.csrf.value(req) : null;
    const sent = typeof given === 'string' && given.length > 0 && given.length <= CSRF_MAX ? given : null;
    if (checked && sent === null && req.body === undefined && FORM.test(req.headers['content-type'] || '')) {
      warnOnce('csrf-body', 'session-express: csrf: a form came before its body was parsed, so its _csrf field ' +
        'cannot be read; put the body parser (express.urlencoded()) before the session middleware');
    }
    const ok = token ? await ctx.load(req, token, sent) : (ctx.fresh(req), false);
    req[LOADED] = req.session;
    /* a method that changes something needs the session's CSRF token: without a session there is none */
    if (checked && !ok) return next(csrfError());
    next();
  }

  function middleware(req, res, next) {
    run(req, res, next).catch(next);
  }

  /* Log a user out everywhere, or everywhere but the given session. */
  middleware.destroyUser = async function destroyUser(userId, opts = {}) {
    const except = opts.except && opts.except[STATE] ? opts.except[STATE].token : opts.except || null;
    const rows = await ctx.query(ctx.sql.destroyUser, [String(userId), except]);
    return Number(rows[0].ended);
  };

  /*
   * A user's live sessions (devices), oldest first; no tokens.  Each has
   * its handle, for destroyHandle, and when it was last used (extension
   * 1.6; null before, and through a session_proxy router).
   */
  middleware.list = async function list(userId) {
    const rows = await ctx.query(ctx.sql.list, [String(userId)]);
    return rows.map((r) => ({
      handle: r.handle ?? null,
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at ?? null,
      expiresAt: r.expires_at,
      absoluteExpiresAt: r.absolute_expires_at,
      data: r.data,
    }));
  };

  /*
   * End one of the user's sessions by the handle list() gave it ("sign out
   * that device"); true if it was live.  A handle of another user's
   * session ends nothing.
   */
  middleware.destroyHandle = async function destroyHandle(userId, handle) {
    try {
      const rows = await ctx.query(ctx.sql.destroyHandle, [String(userId), handle == null ? null : String(handle)]);
      return rows[0].ended === true;
    } catch (err) {
      newerError(err, 'destroyHandle', '1.6');
    }
  };

  return middleware;
}

module.exports = session;
module.exports.session = session;
module.exports.Session = Session;
module.exports.SessionStoreError = SessionStoreError;
module.exports.default = session;
