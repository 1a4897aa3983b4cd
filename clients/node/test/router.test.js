'use strict';
// The middleware connected to a session_proxy router (PL/Proxy) in front of
// two shard databases, as docs/operations.md sets one up: its batch
// statements run there unchanged, and each session lives on the shard its
// token names.  Skipped where PL/Proxy is not installed.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const request = require('supertest');
const { TestServer, bindir, REQUEST_FUNCTIONS } = require('./server');
const { recording, batchApp } = require('./batches');
const session = require('..');

const sharedir = execFileSync(path.join(bindir(), 'pg_config'), ['--sharedir'], { encoding: 'utf8' }).trim();
const skip = fs.existsSync(path.join(sharedir, 'extension', 'plproxy.control'))
  ? false : 'PL/Proxy is not installed';

describe('through a session_proxy router', { skip }, () => {
  let server;
  before(() => {
    server = new TestServer().start();
    server.psql('CREATE ROLE session_router LOGIN');
    for (const k of [0, 1]) {
      server.psql(`CREATE DATABASE sessions_${k}`);
      server.psql(`CREATE EXTENSION session;
        ALTER DATABASE sessions_${k} SET session.shards = 2;
        ALTER DATABASE sessions_${k} SET session.shard = ${k};
        GRANT EXECUTE ON FUNCTION ${REQUEST_FUNCTIONS} TO session_router`, `sessions_${k}`);
    }
    server.psql('CREATE DATABASE router');
    const shard = (k) => `'dbname=sessions_${k} host=${server.dir} port=${server.port}'`;
    server.psql(`CREATE EXTENSION plproxy;
      CREATE EXTENSION session_proxy;
      CREATE SERVER session_shards FOREIGN DATA WRAPPER plproxy OPTIONS (p0 ${shard(0)}, p1 ${shard(1)});
      CREATE USER MAPPING FOR app SERVER session_shards OPTIONS (user 'session_router');
      GRANT USAGE ON FOREIGN SERVER session_shards TO app;
      GRANT USAGE ON SCHEMA session_proxy_internal TO app;
      GRANT EXECUTE ON FUNCTION ${REQUEST_FUNCTIONS}, session_proxy_internal.destroy_user(text, text),
        session_proxy_internal.list(text), session_proxy_internal.create_on(integer, text, jsonb, interval, interval) TO app`,
    'router');
  });
  after(() => server && server.stop());

  it('creates, touches and merges in batches, each session on the shard its token names', async () => {
    const pool = recording(server.pool({ database: 'router' }));
    const a = batchApp(session, 6, pool);
    const made = await Promise.all([0, 1, 2, 3, 4, 5].map((k) => request(a).post(`/bump/new${k}`)));
    const tokens = made.map((r) => {
      assert.equal(r.status, 200);
      return /^sid=([^;]+);/.exec(r.headers['set-cookie'][0])[1];
    });
    const bumped = await Promise.all(tokens.map((t, k) => request(a).post(`/bump/then${k}`).set('Cookie', `sid=${t}`)));
    assert.deepEqual(bumped.map((r) => r.status), [200, 200, 200, 200, 200, 200]);
    assert.deepEqual(pool.log, ['create 6', 'touch 6', 'merge 6']);
    for (let k = 0; k < 6; k++) {
      const t = tokens[k];
      const home = Number(server.psql(`SELECT session_shard_hash('${t}') & 1`, 'router'));
      const on = (db) => server.psql(`SELECT data FROM session_get('${t}')`, db);
      assert.deepEqual(JSON.parse(on(`sessions_${home}`)), { [`new${k}`]: true, [`then${k}`]: true });
      assert.equal(on(`sessions_${1 - home}`), '', 'not on the other shard');
    }
  });
});
