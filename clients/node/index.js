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

function userOf(data, path) {
  const v = getPath(data, path);
  return v === undefined || v === null ? null : String(v);
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

/* The SQL of the calls sent one at a time, schema-qualified when asked. */
function statements(schema) {
  const s = schema ? ident(schema) : '';
  return {
    regenerate: `SELECT t AS token FROM ${s}session_regenerate($1, $2) AS t`,
    destroy: `SELECT ${s}session_destroy($1) AS ended`,
    destroyUser: `SELECT ${s}session_destroy_user($1, $2) AS ended`,
    list: `SELECT created_at, expires_at, absolute_expires_at, data FROM ${s}session_list($1)`,
  };
}

/*
 * The calls every request makes, as statements that take a batch: the
 * items are one JSON array, and each result row carries its item's
 * position (i, from 1).  A touch of a bad or expired token has no row.
 * Touches and merges are sent in token order, so that two statements that
 * both update the same rows lock them in the same order.
 */
function batchStatements(schema) {
  const s = schema ? ident(schema) : '';
  return {
    touch: {
      ordered: true,
      text: `SELECT b.i::int AS i, r.user_id, r.data, r.created_at, r.expires_at, r.absolute_expires_at
               FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b(v, i),
                    LATERAL ${s}session_touch(b.v->>0) AS r`,
    },
    merge: {
      ordered: true,
      text: `SELECT b.i::int AS i, ${s}session_merge(b.v->>0, b.v->1) AS data
               FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b(v, i)`,
    },
    create: {
      ordered: false,
      text: `SELECT b.i::int AS i, c.token, r.expires_at, r.absolute_expires_at, r.created_at
               FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS b(v, i),
                    LATERAL ${s}session_create(b.v->>0, b.v->1, (b.v->>2)::interval,
                                               (b.v->>3)::interval) AS c(token),
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

  /* The result row of one item (undefined if it has none). */
  call(item) {
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
  constructor(opts, secure) {
    Object.defineProperty(this, '_expires', { value: null, writable: true });
    Object.defineProperty(this, '_maxAgeWanted', { value: undefined, writable: true });
    this.httpOnly = opts.httpOnly;
    this.secure = secure;
    this.sameSite = opts.sameSite;
    this.path = opts.path;
    this.domain = opts.domain;
    this.originalMaxAge = null;
  }

  /* When the session ends, as the database says (idle or absolute). */
  get expires() {
    return this._expires;
  }

  set expires(value) {
    this._expires = value ? new Date(value) : null;
  }

  /* Milliseconds left, or null before the session exists. */
  get maxAge() {
    if (this._expires) return Math.max(0, this._expires.getTime() - Date.now());
    return this._maxAgeWanted === undefined ? null : this._maxAgeWanted;
  }

  /*
   * Before the session is stored, the idle timeout it is created with;
   * after, the database's expiry stands (there is no function to change
   * a live session's timeout).
   */
  set maxAge(ms) {
    if (!this._expires) this._maxAgeWanted = ms === null ? undefined : ms;
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
  }
}

const STATE = Symbol('session-express state');

class Session {
  constructor(state, data) {
    Object.defineProperty(this, STATE, { value: state, writable: true });
    Object.defineProperty(this, 'cookie', {
      value: new Cookie(state.ctx.cookie, state.ctx.secureFor(state.req)),
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
function snapshot(state, data, userPath, json) {
  state.orig = json || new Map(Object.keys(data).map((k) => [k, JSON.stringify(data[k])]));
  state.origUser = userOf(data, userPath);
}

function cookieHeader(ctx, name, value, cookie, maxAgeSeconds) {
  const parts = [`${name}=${value}`];
  if (maxAgeSeconds !== undefined) {
    parts.push(`Max-Age=${maxAgeSeconds}`);
    parts.push(`Expires=${new Date(Date.now() + maxAgeSeconds * 1000).toUTCString()}`);
  }
  if (cookie.domain) parts.push(`Domain=${cookie.domain}`);
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

class Context {
  constructor(options) {
    const opts = { ...DEFAULTS, ...options };
    if (!opts.pool || typeof opts.pool.query !== 'function') {
      throw new TypeError('session-express: the pool option (a pg Pool, or anything with query()) is required');
    }
    this.pool = opts.pool;
    this.name = opts.name;
    this.userPath = String(opts.userKey).split('.');
    this.regenerateKeepsData = Boolean(opts.regenerateKeepsData);
    this.rolling = opts.rolling !== false;
    this.timeout = opts.timeout;
    this.idle = intervalOf(opts.idleTimeout, 'idleTimeout');
    this.absolute = intervalOf(opts.absoluteTimeout, 'absoluteTimeout');
    this.cookie = { ...COOKIE_DEFAULTS, ...(opts.cookie || {}) };
    this.sql = statements(opts.schema);
    const batches = batchStatements(opts.schema);
    this.touch = new Batcher(this, batches.touch);
    this.merge = new Batcher(this, batches.merge);
    this.create = new Batcher(this, batches.create);
  }

  secureFor(req) {
    const s = this.cookie.secure;
    if (s === 'auto') return Boolean(req.secure || (req.connection && req.connection.encrypted));
    return Boolean(s);
  }

  async query(text, params) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new SessionStoreError(
        `session store: no answer from the database within ${this.timeout} ms (is it down, or the pool exhausted?)`,
        { code: 'ESESSIONTIMEOUT' })), this.timeout);
    });
    try {
      const result = await Promise.race([this.pool.query(text, params), timeout]);
      return result.rows;
    } catch (err) {
      if (err instanceof SessionStoreError) throw err;
      throw new SessionStoreError(`session store: ${err.message}`, { cause: err, code: err.code });
    } finally {
      clearTimeout(timer);
    }
  }

  setExpiry(sess, row) {
    const ends = [row.expires_at, row.absolute_expires_at].filter(Boolean).map((d) => new Date(d));
    const end = new Date(Math.min(...ends.map((d) => d.getTime())));
    sess.cookie.expires = end;
    if (sess.cookie.originalMaxAge === null && row.created_at) {
      sess.cookie.originalMaxAge = end.getTime() - new Date(row.created_at).getTime();
    }
  }

  fresh(req) {
    const state = new State(this, req);
    const sess = new Session(state);
    req.session = sess;
    req.sessionID = undefined;
    return sess;
  }

  async load(req, token) {
    const row = await this.touch.call([token]);
    if (row === undefined) {
      const sess = this.fresh(req);
      sess[STATE].clearCookie = true;
      return sess;
    }
    const state = new State(this, req);
    state.token = token;
    const sess = new Session(state, row.data);
    snapshot(state, row.data, this.userPath);
    this.setExpiry(sess, row);
    state.sendCookie = this.rolling;
    req.session = sess;
    req.sessionID = token;
    return sess;
  }

  /* Write what changed (nothing if nothing did), then put the cookie in the headers. */
  async save(sess) {
    await this.write(sess);
    this.emitCookie(sess[STATE].req);
  }

  async write(sess) {
    const state = sess[STATE];
    const req = state.req;
    if (state.destroyed) return;
    const { data, json } = storedForm(sess);
    const user = userOf(data, this.userPath);
    if (!state.token) {
      if (Object.keys(data).length === 0) return;
      const idle = sess.cookie._maxAgeWanted !== undefined
        ? intervalOf(sess.cookie._maxAgeWanted, 'cookie.maxAge') : this.idle;
      const row = await this.create.call([user, data, idle, this.absolute]);
      state.token = row.token;
      req.sessionID = state.token;
      this.setExpiry(sess, row);
      snapshot(state, data, this.userPath, json);
      state.sendCookie = true;
      state.clearCookie = false;
      return;
    }
    if (user !== state.origUser && user !== null) {
      /* another user: the database's user_id follows, with a new token */
      const rows = await this.query(this.sql.regenerate, [state.token, user]);
      if (!rows[0].token) return this.lost(sess);
      state.token = rows[0].token;
      req.sessionID = state.token;
      state.origUser = user;
      state.sendCookie = true;
    }
    const patch = {};
    for (const [k, j] of json) {
      if (state.orig.get(k) !== j) patch[k] = data[k];
    }
    for (const k of state.orig.keys()) {
      if (!(k in data)) patch[k] = null;
    }
    if (Object.keys(patch).length > 0) {
      const row = await this.merge.call([state.token, patch]);
      if (row.data === null) return this.lost(sess);
      snapshot(state, data, this.userPath, json);
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

  async destroy(req) {
    const sess = req.session;
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
    snapshot(state, row.data, this.userPath);
    this.setExpiry(req.session, row);
  }

  /* Put the cookie the session's state calls for into the headers, if still open. */
  emitCookie(req, given) {
    const res = req.res;
    const state = given || (req.session && req.session[STATE]) || req[STATE];
    if (!state || !res || res.headersSent) return;
    const current = res.getHeader('Set-Cookie');
    const mine = `${this.name}=`;
    if (current !== undefined) {
      const others = [].concat(current).filter((c) => !String(c).startsWith(mine));
      if (others.length === 0) res.removeHeader('Set-Cookie');
      else res.setHeader('Set-Cookie', others);
    }
    const cookie = req.session ? req.session.cookie : new Cookie(this.cookie, this.secureFor(req));
    if (state.token && state.sendCookie) {
      const left = Math.max(0, Math.floor(((cookie.expires || new Date()).getTime() - Date.now()) / 1000));
      appendSetCookie(res, cookieHeader(this, this.name, state.token, cookie, left));
    } else if (!state.token && state.clearCookie) {
      appendSetCookie(res, cookieHeader(this, this.name, '', cookie, 0));
    }
  }
}

/*
 * Hold the response's first write (write or end) until the session's
 * writes are done and its cookie is in the headers.  A database error
 * there goes to next(err) instead of the response.
 */
function holdResponse(ctx, req, res, next) {
  const _write = res.write;
  const _end = res.end;
  let phase = 'open';   /* open -> committing -> done */
  const queue = [];

  function flush() {
    phase = 'done';
    res.write = _write;
    res.end = _end;
    for (const [fn, args] of queue) fn.apply(res, args);
  }

  function commit(fn, args) {
    if (phase === 'done') return fn.apply(res, args);
    queue.push([fn, args]);
    if (phase === 'committing') return true;
    phase = 'committing';
    const sess = req.session;
    /* save() ends with the cookie; without a session (destroyed), its clearing */
    const work = sess && sess[STATE] ? ctx.save(sess) : Promise.resolve().then(() => ctx.emitCookie(req));
    work.then(flush, (err) => {
      phase = 'done';
      res.write = _write;
      res.end = _end;
      next(err);
    });
    return true;
  }

  res.write = function write(...args) {
    return commit(_write, args);
  };
  res.end = function end(...args) {
    commit(_end, args);
    return res;
  };
}

function session(options = {}) {
  const ctx = new Context(options);

  async function run(req, res, next) {
    if (req.session) return next();
    const token = parseCookies(req.headers.cookie)[ctx.name];
    holdResponse(ctx, req, res, next);
    if (token) await ctx.load(req, token);
    else ctx.fresh(req);
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

  /* A user's live sessions (devices), oldest first; no tokens. */
  middleware.list = async function list(userId) {
    const rows = await ctx.query(ctx.sql.list, [String(userId)]);
    return rows.map((r) => ({
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      absoluteExpiresAt: r.absolute_expires_at,
      data: r.data,
    }));
  };

  return middleware;
}

module.exports = session;
module.exports.session = session;
module.exports.Session = Session;
module.exports.SessionStoreError = SessionStoreError;
module.exports.default = session;
