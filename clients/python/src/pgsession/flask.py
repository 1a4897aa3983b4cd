"""Flask: app.session_interface = pgsession.flask.SessionInterface(pool).

session behaves as Flask's own: a dict that tracks its own access and
change (session.accessed, session.modified, which a view may also set), with
session.permanent.  Nothing is stored or sent for a request that stores
nothing; a new session is created (session_create) when something is
stored; a request that changes it merges only the keys that changed
(session_merge, with removals named apart, so a None value is kept); one
session_touch loads it and rolls its expiry.  session.regenerate() gives it
a new token (login, privilege change); session.clear() or
session.destroy() ends it (logout) and clears the cookie.  Values are kept
with Flask's tagged JSON (flask.json.tag, as Flask's own session does), so
tuples, bytes, Markup, UUIDs and datetimes come back as they went in, while
plain values stay plain JSON in the database.

Lifetimes and cookies follow Flask's configuration: a permanent session
(session.permanent = True) has PERMANENT_SESSION_LIFETIME as its idle
timeout in the database and a cookie that expires with it; any other
session a browser-session cookie, and the idle timeout given here (None:
the database's session.idle_timeout).  The cookie is sent when Flask's
rules say (SessionInterface.should_set_cookie: a change, or a permanent
session with SESSION_REFRESH_EACH_REQUEST) and whenever the token changes;
Vary: Cookie whenever the session was accessed.  Its attributes are
Flask's SESSION_COOKIE_* settings (set SESSION_COOKIE_SAMESITE, whose
default is none), Secure also whenever the request is.  The user key
(user_key, default "user_id") is the database's user_id.
"""
from __future__ import annotations

import json
from datetime import timedelta
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from flask import Flask, Request, Response, session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SecureCookieSession
from flask.sessions import SessionInterface as _Base

from . import _sql
from . import Target, _create_row, _regenerate_row, bound as _bound, destroy, merge, set_idle_timeout, touch

_tags = TaggedJSONSerializer()
PERMANENT_KEY = "_permanent"


def _tagged(data: Any) -> dict[str, Any]:
    """The session's values in Flask's tagged JSON, as stored."""
    return {k: _tags.tag(v) for k, v in data.items()}


def _untagged(stored: dict[str, Any]) -> dict[str, Any]:
    """The stored values back as Python's (each value apart: a session whose
    one key looks like a tag is still a session)."""
    return {k: _tags.loads(json.dumps(v)) for k, v in stored.items()}


class PgSession(SecureCookieSession):
    """Flask's session, kept by the extension.  Flask's SecureCookieSession
    is the dict that tracks access and change; nothing of it goes into a
    cookie here but the token."""

    def __init__(self, stored: Optional[dict[str, Any]] = None, token: Optional[str] = None,
                 row: Optional[_sql.Session] = None, request_secure: bool = False) -> None:
        super().__init__(_untagged(stored or {}))
        self.token = token
        self.row = row
        self.orig = _sql.fingerprints(stored or {})
        self.new = token is None
        self.request_secure = request_secure
        self.stale_cookie = False
        self.destroyed = False
        self.regenerate_requested = False

    def regenerate(self) -> None:
        """A new token at the end of the request, the data kept (login)."""
        self.regenerate_requested = True
        self.modified = True

    def destroy(self) -> None:
        """End the session at the end of the request (logout)."""
        self.clear()
        self.destroyed = True
        self.modified = True


class SessionInterface(_Base):
    """Keeps Flask's session with the extension, on a psycopg pool (or connection in autocommit)."""

    def __init__(self, pool: Any, *, user_key: str = "user_id", idle_timeout: Optional[timedelta] = None,
                 absolute_timeout: Optional[timedelta] = None, max_sessions_per_user: Optional[int] = None,
                 on_session_limit: Optional[str] = None) -> None:
        self.pool = pool
        self.user_key = user_key
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        # the app's own limit on a user's live sessions (extension 1.6), or
        # the database's settings
        self.limit = _sql.limit_of(max_sessions_per_user, on_session_limit)

    def open_session(self, app: Flask, request: Request) -> PgSession:
        token = request.cookies.get(self.get_cookie_name(app))
        row = touch(self.pool, token) if token else None
        if row is None:
            session = PgSession(request_secure=request.is_secure)
            session.stale_cookie = bool(token)
            return session
        return PgSession(row.data, token, row, request.is_secure)

    def _lifetime(self, app: Flask, session: PgSession) -> Optional[timedelta]:
        """The idle timeout in the database: PERMANENT_SESSION_LIFETIME for a
        permanent session, else ours (None: the database's)."""
        return app.permanent_session_lifetime if session.permanent else self.idle_timeout

    def _lost(self, session: PgSession) -> None:
        session.token = None
        session.row = None
        session.stale_cookie = True

    def _write(self, app: Flask, session: PgSession) -> None:
        """Bring the database to what the request made of the session."""
        user = _sql.user(session.get(self.user_key))
        if session.token and (session.destroyed or not session):
            destroy(self.pool, session.token)
            self._lost(session)
            return
        stored = _tagged(session)
        if session.token is None:
            if session:
                session.token, session.row = _create_row(self.pool, user, stored, self._lifetime(app, session),
                                                         self.absolute_timeout, self.limit)
            return
        old_user = session.row.user_id if session.row else None
        if session.regenerate_requested or (user is not None and user != old_user):
            session.token, session.row = _regenerate_row(self.pool, session.token, user,
                                                         self.limit if user is not None else None)
            if session.token is None:
                return self._lost(session)
        changed, removed = _sql.patch(session.orig, stored)
        if PERMANENT_KEY in changed or PERMANENT_KEY in removed:
            ends = set_idle_timeout(self.pool, session.token, self._lifetime(app, session))
            if ends is None:
                return self._lost(session)
            if session.row is not None:
                r = session.row
                session.row = _sql.Session(r.user_id, r.data, r.created_at, ends, r.absolute_expires_at)
        if (changed or removed) and merge(self.pool, session.token, changed, remove=removed) is None:
            self._lost(session)

    def save_session(self, app: Flask, session: PgSession, response: Response) -> None:  # type: ignore[override]
        token_before = session.token
        if session.accessed or session.modified:
            self._write(app, session)

        name = self.get_cookie_name(app)
        attrs = dict(domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
                     secure=self.get_cookie_secure(app) or session.request_secure,
                     samesite=self.get_cookie_samesite(app), httponly=self.get_cookie_httponly(app))
        # SESSION_COOKIE_PARTITIONED, from Flask 3.1 on
        if getattr(self, "get_cookie_partitioned", None) and self.get_cookie_partitioned(app):
            attrs["partitioned"] = True
        if session.accessed:
            response.vary.add("Cookie")
        if session.token and session.row:
            if session.token != token_before or self.should_set_cookie(app, session):
                expires = session.row.ends_at if session.permanent else None
                response.set_cookie(name, session.token, expires=expires, **attrs)  # type: ignore[arg-type]
                response.vary.add("Cookie")
        elif session.stale_cookie:
            response.delete_cookie(name, **attrs)  # type: ignore[arg-type]
            response.vary.add("Cookie")


@contextmanager
def bound(target: Target) -> Iterator[Any]:
    """In a request: a transaction on target (a psycopg Connection or pool)
    with this request's session bound to it (session_bind, extension 1.5),
    for row-level security policies that read session_bound_user(); yields
    the connection, as pgsession.bound.  pgsession.SessionNotBound when the
    request has no live stored session (a session is stored at the end of
    the request that first sets something in it)."""
    token = getattr(session, "token", None)
    if token is None:
        raise _sql.SessionNotBound("the request has no stored session: nothing bound")
    with _bound(target, token) as conn:
        yield conn
