'use strict';
// The README's Express app (its ```js readme-express block) as a program of
// its own, for docs.test.js (in this package) and packed.test.js (installed
// from the npm tarball elsewhere): start it, and take it over HTTP through
// login (regenerates and stores the user), /me and logout.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { spawn } = require('node:child_process');

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

/* Write the block to file, run it against server, and resolve to { child, base } once it listens. */
async function startReadmeApp(file, server, tag = 'readme-express') {
  fs.writeFileSync(file, block(tag));
  const port = await freePort();
  const { host, port: pgport } = server.target();
  const child = spawn(process.execPath, [file], {
    cwd: path.dirname(file),
    env: { ...process.env, PORT: String(port), PGHOST: host, PGPORT: String(pgport), PGUSER: 'app',
      PGDATABASE: 'postgres', NODE_PATH: '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  // until it listens (or dies)
  for (let i = 0; i < 400; i++) {
    if (child.exitCode !== null) throw new Error(`the README's app exited with ${child.exitCode}`);
    try {
      await fetch(`${base}/me`);
      return { child, base };
    } catch (e) {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  child.kill();
  throw new Error("the README's app did not listen");
}

async function loginMeLogout(base, server) {
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
}

module.exports = { block, startReadmeApp, loginMeLogout };
