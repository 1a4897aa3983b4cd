'use strict';
// The README's Express app (its ```js readme-express block), run as it
// stands there, as a program of its own: login regenerates and stores the
// user, /me answers for it, logout ends it.  The file is written inside
// this package, so require('session-express') resolves to it by name.
const { describe, it, before, after } = require('node:test');
const fs = require('node:fs');
const path = require('node:path');
const { useServer } = require('./server');
const { startReadmeApp, loginMeLogout } = require('./readme-app');

let server;
useServer({ before, after }, (s) => { server = s; });

describe("the README's Express app", () => {
  let child;
  let base;
  const file = path.join(__dirname, '..', '.readme-express.js');
  before(async () => {
    ({ child, base } = await startReadmeApp(file, server));
  });
  after(() => {
    if (child) child.kill();
    fs.rmSync(file, { force: true });
  });

  it('logs in, answers for the user, and logs out', async () => {
    await loginMeLogout(base, server);
  });
});
