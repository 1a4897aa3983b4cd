'use strict';
// Passport (>= 0.6 calls regenerate and save on login, save and regenerate
// on logout) with passport-local, over this middleware.
const { it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const request = require('supertest');
const express = require('express');
const passport = require('passport');
const LocalStrategy = require('passport-local').Strategy;
const { useServer } = require('./server');
const session = require('..');

let server;
useServer({ before, after }, (s) => { server = s; });

it('logs in and out with passport-local', async () => {
  const users = { alice: { id: 'u1', password: 'secret' } };
  passport.use(new LocalStrategy((username, password, done) =>
    done(null, users[username] && users[username].password === password ? { id: users[username].id, username } : false)));
  passport.serializeUser((user, done) => done(null, user.id));
  passport.deserializeUser((id, done) => done(null, { id }));

  const app = express();
  app.use(express.urlencoded({ extended: false }));
  app.use(session({ pool: server.pool(), userKey: 'passport.user' }));
  app.use(passport.session());
  app.post('/login', passport.authenticate('local', { failureRedirect: '/login' }), (req, res) => res.json({ user: req.user }));
  app.post('/logout', (req, res, next) => req.logout((err) => (err ? next(err) : res.json({ ok: true }))));
  app.get('/me', (req, res) => (req.user ? res.json(req.user) : res.sendStatus(401)));

  const pair = (res) => (res.headers['set-cookie'] || []).find((h) => h.startsWith('sid=')).split(';')[0];

  const bad = await request(app).post('/login').type('form').send({ username: 'alice', password: 'x' });
  assert.equal(bad.status, 302);
  const res = await request(app).post('/login').type('form').send({ username: 'alice', password: 'secret' });
  assert.equal(res.status, 200);
  const c = pair(res);
  assert.deepEqual((await request(app).get('/me').set('Cookie', c)).body, { id: 'u1' });
  assert.equal(server.psql("SELECT count(*) FROM session_internal.sessions WHERE user_id = 'u1'"), '1');

  const out = await request(app).post('/logout').set('Cookie', c);
  assert.equal(out.status, 200);
  assert.equal((await request(app).get('/me').set('Cookie', c)).status, 401);
  assert.equal(server.psql("SELECT count(*) FROM session_internal.sessions WHERE user_id = 'u1'"), '0');
});
