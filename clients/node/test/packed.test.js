'use strict';
// session-express as its users get it: `npm pack` of this package, the
// tarball's file list, then in a new directory outside this repository
// `npm install` of that tarball with pg and express from npm's registry,
// and the README's Express app run from there over HTTP.  Needs the
// registry, so it runs when ARTIFACT_TESTS=1 (scripts/test sets it); run
// once, directly (nothing of it differs through pgbouncer).
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { useServer } = require('./server');
const { startReadmeApp, loginMeLogout } = require('./readme-app');

const skip = process.env.ARTIFACT_TESTS !== '1' ? 'ARTIFACT_TESTS=1 runs it (it needs npm\'s registry)'
  : process.env.PGBOUNCER ? 'the same tarball; run once, directly' : false;

const PACKAGE = path.join(__dirname, '..');
const npm = (args, cwd) => execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'],
  { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });

describe('the npm tarball, installed elsewhere', { skip }, () => {
  let server;
  useServer({ before, after }, (s) => { server = s; });
  let dir;
  let tarball;
  let app;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-express-packed-'));
    // npm 9 and 10 print an array of packages; npm 11 on, an object by name
    const out = JSON.parse(npm(['pack', '--json', '--pack-destination', dir], PACKAGE));
    [tarball] = Array.isArray(out) ? out : Object.values(out);
  });
  after(() => {
    if (app) app.child.kill();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('holds only what it needs', () => {
    assert.deepEqual(tarball.files.map((f) => f.path).sort(),
      ['LICENSE', 'index.d.ts', 'index.js', 'index.mjs', 'package.json']);
    assert.equal(fs.existsSync(path.join(PACKAGE, 'LICENSE')), false, 'postpack removed the copied LICENSE');
  });

  it("runs the README's Express app from a project that installed it", async () => {
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'readme-app', private: true }));
    npm(['install', path.join(dir, tarball.filename), 'pg', 'express'], dir);
    const resolved = execFileSync(process.execPath, ['-p', "require.resolve('session-express')"],
      { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } }).trim();
    assert.equal(resolved, path.join(fs.realpathSync(dir), 'node_modules', 'session-express', 'index.js'));
    app = await startReadmeApp(path.join(dir, 'app.js'), server);
    await loginMeLogout(app.base, server);
  });
});
