// A sample app, type-checked by test/types.test.js (tsc --noEmit): the
// SessionData an app declares is what req.session has.
import express from 'express';
import { Pool } from 'pg';
import session from 'session-express';

declare module 'session-express' {
  interface SessionData {
    userId: number;
    role: 'member' | 'admin';
  }
}

const app = express();
const sessions = session({ pool: new Pool(), idleTimeout: 7 * 24 * 3600 * 1000, cookie: { sameSite: 'lax' } });
app.use(sessions);

app.post('/login', async (req, res) => {
  await req.session.regenerate();
  req.session.userId = 42;
  req.session.role = 'member';
  await req.session.save();
  const left: number | null = req.session.cookie.maxAge;
  const token: string | undefined = req.sessionID;
  res.json({ left, token });
});

app.get('/notes', async (req, res) => {
  const notes: any[] = await req.session.withDatabase(async (client) => (await client.query('SELECT body FROM notes')).rows);
  res.json(notes);
});

app.post('/logout-everywhere', async (req, res) => {
  const ended: number = await sessions.destroyUser(req.session.userId ?? 0, { except: req.session });
  const devices = await sessions.list(42);
  res.json({ ended, first: devices[0]?.createdAt.toISOString() });
});

app.get('/me', (req, res) => {
  const role: 'member' | 'admin' | undefined = req.session.role;
  // @ts-expect-error: not a declared session property type
  const wrong: string = req.session.userId;
  req.session.destroy((err) => res.json({ role, wrong, err: String(err) }));
});

const guarded = session({ pool: new Pool(), csrf: { ignoreMethods: ['GET'], value: (req) => req.get('x-my-token') } });
app.get('/form', guarded, async (req, res) => {
  await req.session.save();
  const csrf: string = req.csrfToken();
  res.send(`<input type="hidden" name="_csrf" value="${csrf}">`);
});
// @ts-expect-error: csrf is true, false or csurf's options
session({ pool: new Pool(), csrf: 'yes' });
