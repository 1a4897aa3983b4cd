'use strict';
// The README's Express app (its ```js readme-express block), run as it
// stands there, as a program of its own: login regenerates and stores the
// user, /me answers for it, logout ends it.  The file is written inside
// this package, so require('session-express') resolves to it by name.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { useServer } = require('./server');

let server;
useServer({ before, after }, (s) => { server = s; });

function block(tag) {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  const m = readme.match(new RegExp('```js ' + tag + '\\n([\\s\\S]*?)```'));
  assert.ok(m, `README.md has a \`\`\`js ${tag} block`);
  return m[1];
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

describe("the README's Express app", () => {
  let child;
  let base;
  const file = path.join(__dirname, '..', '.readme-express.js');
  before(async () => {
    fs.writeFileSync(file, block('readme-express'));
    const port = await freePort();
    const { host, port: pgport } = server.target();
    child = spawn(process.execPath, [file], {
      env: { ...process.env, PORT: String(port), PGHOST: host, PGPORT: String(pgport), PGUSER: 'app',
        PGDATABASE: 'postgres' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    base = `http://127.0.0.1:${port}`;
    // until it listens (or dies)
    for (let i = 0; i < 400; i++) {
      if (child.exitCode !== null) throw new Error(`the README's app exited with ${child.exitCode}`);
      try {
        await fetch(`${base}/me`);
        return;
      } catch (e) {
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    throw new Error("the README's app did not listen");
  });
  after(() => {
    if (child) child.kill();
    fs.rmSync(file, { force: true });
  });

  it('logs in, answers for the user, and logs out', async () => {
    assert.equal((await fetch(`${base}/me`)).status, 401);
    const login = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'alice' }) });
    assert.equal(login.status, 200);
    const setCookie = login.headers.get('set-cookie');
    assert.match(setCookie, /^sid=[A-Za-z0-9_-]{32}\.[A-Za-z0-9_-]{43};/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Lax/);
    const cookie = setCookie.split(';')[0];
    const me = await fetch(`${base}/me`, { headers: { cookie } });
    assert.deepEqual(await me.json(), { user: 'alice' });
    assert.equal(server.psql(`SELECT user_id FROM session_get('${cookie.slice(4)}')`), 'alice');
    assert.equal((await fetch(`${base}/logout`, { method: 'POST', headers: { cookie } })).status, 200);
    assert.equal((await fetch(`${base}/me`, { headers: { cookie } })).status, 401);
    assert.equal(server.psql(`SELECT count(*) FROM session_get('${cookie.slice(4)}')`), '0');
  });
});
