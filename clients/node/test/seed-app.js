'use strict';
// The Express app this package is for, as its users write it today with
// express-session + connect-pg-simple (the seed), with the
// session middleware passed in: the only line that differs between the two.
function seedApp(express, sessionMiddleware, cookieName) {
  const app = express();
  app.use(express.json());
  app.use(sessionMiddleware);

  const users = new Map([['alice', { id: 1, password: 'secret', role: 'member' }]]);

  const requireAuth = (req, res, next) =>
    (req.session && req.session.userId ? next() : res.status(401).json({ error: 'Unauthorized' }));

  app.post('/api/login', (req, res, next) => {
    const user = users.get(req.body.username);
    if (!user || user.password !== req.body.password) return res.status(401).json({ error: 'bad credentials' });
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = user.id;
      req.session.role = user.role;
      req.session.save((err2) => (err2 ? next(err2) : res.json({ user: { id: user.id, role: user.role } })));
    });
  });

  app.post('/api/logout', (req, res, next) =>
    req.session.destroy((err) => {
      if (err) return next(err);
      res.clearCookie(cookieName);
      res.json({ ok: true });
    }));

  app.get('/api/me', requireAuth, (req, res) => res.json({ userId: req.session.userId, role: req.session.role }));

  app.post('/api/cart', (req, res) => {
    req.session.cart = [...(req.session.cart || []), req.body.item];
    res.json({ cart: req.session.cart });
  });

  // a privilege change: a new session id, the user kept
  app.post('/api/password', requireAuth, (req, res, next) => {
    const { userId, role } = req.session;
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = userId;
      req.session.role = role;
      req.session.save((err2) => (err2 ? next(err2) : res.json({ ok: true })));
    });
  });

  app.post('/api/grant-admin', requireAuth, (req, res, next) => {
    const { userId } = req.session;
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.userId = userId;
      req.session.role = 'admin';
      req.session.save((err2) => (err2 ? next(err2) : res.json({ role: 'admin' })));
    });
  });

  return app;
}

module.exports = { seedApp };
