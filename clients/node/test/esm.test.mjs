// The ESM entry point gives the same middleware as the CommonJS one.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import session, { session as named, SessionStoreError } from 'session-express';

const require = createRequire(import.meta.url);

it('imports as ESM and requires as CommonJS, the same functions', () => {
  const cjs = require('session-express');
  assert.equal(session, cjs);
  assert.equal(named, cjs.session);
  assert.equal(SessionStoreError, cjs.SessionStoreError);
  assert.equal(typeof session({ pool: { query: async () => ({ rows: [] }) } }), 'function');
  assert.throws(() => session({}), /the pool option/);
});
