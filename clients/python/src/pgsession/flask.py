"""Flask: app.session_interface = pgsession.flask.SessionInterface(pool).

session is a dict as Flask's is.  Nothing is stored or sent for a request
that stores nothing; a new session is created (session_create) when
something is stored; a request that changes it merges only the keys that
changed (session_merge, a removed key removed); one session_touch loads it
and rolls its expiry.  session.regenerate() gives it a new token (login,
privilege change); session.clear() or session.destroy() ends it (logout)
and clears the cookie.  The cookie: HttpOnly, SameSite=Lax, Secure when the
request is (or SESSION_COOKIE_SECURE), Max-Age the database's expiry, sent
on each response of a live session.  The user key (user_key, default
"user_id") is the database's user_id.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from flask import Flask, Request, Response
from flask.sessions import SessionInterface as _Base
from flask.sessions import SessionMixin

from . import _sql
from . import _create_row, _regenerate_row, destroy, merge, touch


class PgSession(dict, SessionMixin):  # type: ignore[type-arg]
    """Flask's session, kept by the extension."""

    def __init__(self, data: Optional[dict[str, Any]] = None, token: Optional[str] = None,
                 row: Optional[_sql.Session] = None) -> None:
        super().__init__(data or {})
        self.token = token
        self.row = row
        self.orig = _sql.fingerprints(data or {})
        self.new = token is None
        self.stale_cookie = False
        self.destroyed = False
        self.regenerate_requested = False

    def regenerate(self) -> None:
        """A new token at the end of the request, the data kept (login)."""
        self.regenerate_requested = True

    def destroy(self) -> None:
        """End the session at the end of the request (logout)."""
        self.clear()
        self.destroyed = True

    @property
    def modified(self) -> bool:  # type: ignore[override]
        return bool(self.patch()) or self.destroyed or self.regenerate_requested

    def patch(self) -> dict[str, Any]:
        return _sql.patch(self.orig, self)


class SessionInterface(_Base):
    """Keeps Flask's session with the extension, on a psycopg pool (or connection in autocommit)."""

    def __init__(self, pool: Any, *, user_key: str = "user_id", idle_timeout: Optional[timedelta] = None,
                 absolute_timeout: Optional[timedelta] = None) -> None:
        self.pool = pool
        self.user_key = user_key
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout

    def open_session(self, app: Flask, request: Request) -> PgSession:
        token = request.cookies.get(self.get_cookie_name(app))
        if not token:
            return PgSession()
        row = touch(self.pool, token)
        if row is None:
            s = PgSession()
            s.stale_cookie = True
            return s
        return PgSession(row.data, token, row)

    def _lost(self, session: PgSession) -> None:
        session.token = None
        session.row = None
        session.stale_cookie = True

    def save_session(self, app: Flask, session: PgSession, response: Response) -> None:  # type: ignore[override]
        from flask import request

        user = _sql.user(session.get(self.user_key))
        if session.token and (session.destroyed or not session):
            destroy(self.pool, session.token)
            self._lost(session)
        elif session.token is None and session:
            session.token, session.row = _create_row(self.pool, user, dict(session), self.idle_timeout,
                                                     self.absolute_timeout)
        elif session.token:
            old_user = session.row.user_id if session.row else None
            if session.regenerate_requested or (user is not None and user != old_user):
                session.token, session.row = _regenerate_row(self.pool, session.token, user)
                if session.token is None:
                    self._lost(session)
            patch = session.patch()
            if session.token and patch and merge(self.pool, session.token, patch) is None:
                self._lost(session)

        name = self.get_cookie_name(app)
        kwargs = dict(domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
                      httponly=self.get_cookie_httponly(app),
                      secure=self.get_cookie_secure(app) or request.is_secure,
                      samesite=self.get_cookie_samesite(app) or "Lax")
        if session.token and session.row:
            ends = session.row.ends_at
            max_age = max(0, int((ends - datetime.now(timezone.utc)).total_seconds()))
            response.set_cookie(name, session.token, max_age=max_age, **kwargs)  # type: ignore[arg-type]
            response.vary.add("Cookie")
        elif session.stale_cookie:
            response.delete_cookie(name, **kwargs)  # type: ignore[arg-type]
