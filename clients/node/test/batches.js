'use strict';
// Helpers for the tests of the middleware's batch statements: the sizes of
// the batches sent, and requests held until they can go on in one turn.
const express = require('express');

/* A real pool that records each batch statement as its kind and how many items it carried. */
function recording(pool) {
  const r = {
    log: [],
    query(text, params) {
      const kind = /session_(touch|merge|create)\(b\./.exec(text);
      if (kind) r.log.push(`${kind[1]} ${JSON.parse(params[0]).length}`);
      return pool.query(text, params);
    },
  };
  return r;
}

/* Middleware that holds requests until n have arrived, then lets them all go on in one turn. */
function together(n) {
  let waiting = [];
  return (req, res, next) => {
    waiting.push(next);
    if (waiting.length === n) {
      const go = waiting;
      waiting = [];
      for (const f of go) f();
    }
  };
}

/*
 * An app whose requests reach the session, and then the route, n at a time:
 * POST /bump/K sets K (and with ?days=D the new session's timeout), GET /get
 * answers the data.
 */
function batchApp(session, n, pool) {
  const a = express();
  a.use(together(n));
  a.use(session({ pool }));
  const route = together(n);
  a.post('/bump/:k', (req, res, next) => route(req, res, () => {
    req.session[req.params.k] = true;
    if (req.query.days) req.session.cookie.maxAge = Number(req.query.days) * 86400000;
    res.json({ ok: true });
  }));
  a.get('/get', (req, res) => res.json({ data: { ...req.session } }));
  a.use((err, req, res, next) => res.status(500).json({ error: err.message, code: err.code }));
  return a;
}

module.exports = { recording, together, batchApp };
