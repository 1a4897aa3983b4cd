'use strict';
// csrf: true in a real browser (Debian's chromium, headless, driven by
// puppeteer-core) against a real PostgreSQL: a form posted from the app's
// own page goes through; the same form posted from a page of another
// origin is refused with 403 though the browser sent the session cookie
// with it (the other origin is on the same site, 127.0.0.1 on another
// port, so SameSite=Lax does not stop the cookie: the token does), and
// that page cannot read the token off the app either.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const express = require('express');
const { useServer } = require('./server');
const session = require('..');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const skip = fs.existsSync(CHROMIUM) ? false
  : `no Chromium at ${CHROMIUM} (Debian's chromium package; or set CHROMIUM): this test needs a real browser`;

let server;
useServer({ before, after }, (s) => { server = s; });

function listen(app) {
  return new Promise((resolve) => {
    const srv = app.listen(0, '127.0.0.1', () => resolve(srv));
  });
}
const origin = (srv) => `http://127.0.0.1:${srv.address().port}`;
const quote = (s) => `'${s.replace(/'/g, "''")}'`;

describe('csrf in a browser', { skip }, () => {
  let appServer;
  let evilServer;
  let browser;
  let userDataDir;
  const posts = [];

  before(async () => {
    const puppeteer = require('puppeteer-core');
    const app = express();
    // what reached the app: whether each POST carried the session cookie
    app.use((req, res, next) => {
      if (req.method === 'POST') posts.push({ cookie: /(^|;\s*)sid=/.test(req.headers.cookie || '') });
      next();
    });
    app.use(express.urlencoded({ extended: false }));
    app.use(session({ pool: server.pool(), csrf: true }));
    app.get('/form', async (req, res) => {
      req.session.balance = req.session.balance ?? 100;
      await req.session.save();
      res.type('html').send(`<!doctype html><form id="pay" method="post" action="/pay">
        <input type="hidden" name="_csrf" value="${req.csrfToken()}">
        <input name="amount" value="10"><button id="go">pay</button></form>`);
    });
    app.post('/pay', (req, res) => {
      req.session.balance -= Number(req.body.amount);
      res.type('html').send(`<p id="done">balance ${req.session.balance}</p>`);
    });
    app.use((err, req, res, next) => {
      if (err.code !== 'EBADCSRFTOKEN') return next(err);
      res.status(403).type('html').send('<p id="refused">form tampered with</p>');
    });
    appServer = await listen(app);

    const target = origin(appServer);
    const evil = express();
    // a copy of the app's form, posted on load, with a made-up token
    evil.get('/forged', (req, res) => res.type('html').send(`<!doctype html>
      <form id="f" method="post" action="${target}/pay">
        <input type="hidden" name="_csrf" value="${'A'.repeat(43)}"><input name="amount" value="90"></form>
      <script>document.getElementById('f').submit()</script>`));
    // the same without any token
    evil.get('/bare', (req, res) => res.type('html').send(`<!doctype html>
      <form id="f" method="post" action="${target}/pay"><input name="amount" value="90"></form>
      <script>document.getElementById('f').submit()</script>`));
    // an attempt to read the token off the app's page first
    evil.get('/read', (req, res) => res.type('html').send(`<!doctype html><script>
      window.result = fetch('${target}/form', { credentials: 'include' })
        .then((r) => r.text()).then((t) => 'read: ' + t, (e) => 'refused: ' + e.name);
    </script>`));
    evilServer = await listen(evil);

    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-chromium-'));
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      userDataDir,
      // the test's own pages only; a sandbox needs privileges test users lack
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--no-first-run'],
    });
  });

  after(async () => {
    if (browser) await browser.close();
    if (appServer) appServer.close();
    if (evilServer) evilServer.close();
    if (userDataDir) fs.rmSync(userDataDir, { recursive: true, force: true });
  });

  const balance = (token) => Number(server.psql(`SELECT data->>'balance' FROM session_get(${quote(token)})`));

  it('takes the app\'s own form, and refuses the one posted from another origin though its cookie came along', async () => {
    const page = await browser.newPage();
    await page.goto(`${origin(appServer)}/form`);
    const [sid] = (await page.cookies()).filter((c) => c.name === 'sid');
    assert.ok(sid, 'the form page made a session');
    assert.equal(sid.sameSite, 'Lax');
    const token = decodeURIComponent(sid.value);
    assert.equal(balance(token), 100);

    await Promise.all([page.waitForNavigation(), page.click('#go')]);
    assert.equal(await page.$eval('#done', (e) => e.textContent), 'balance 90');
    assert.equal(balance(token), 90);

    for (const attack of ['forged', 'bare']) {
      posts.length = 0;
      const answer = page.waitForResponse((r) => r.url() === `${origin(appServer)}/pay`);
      await page.goto(`${origin(evilServer)}/${attack}`);
      assert.equal((await answer).status(), 403, attack);
      await page.waitForSelector('#refused');
      assert.deepEqual(posts, [{ cookie: true }], `${attack}: the POST reached the app with the session cookie`);
      assert.equal(balance(token), 90, `${attack}: nothing was paid`);
    }
    await page.close();
  });

  it('does not let a page of another origin read the token', async () => {
    const page = await browser.newPage();
    await page.goto(`${origin(appServer)}/form`);
    await page.goto(`${origin(evilServer)}/read`);
    const result = await page.evaluate(() => window.result);
    assert.match(result, /^refused: TypeError/);
    await page.close();
  });
});
