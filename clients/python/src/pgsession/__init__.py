"""pgsession: PostgreSQL's `session` extension from Python.

A thin, typed layer over psycopg 3: each function is one call of the
extension's SQL function of the same name, on a psycopg Connection or
ConnectionPool.  An invalid token (malformed, forged, expired, destroyed)
is None or False, never an exception; database errors pass through as
psycopg's.  On a Connection the call runs in its current transaction
(commit it, or use autocommit); a pool commits each call.  The async
variants are in pgsession.aio; Django's and Flask's adapters in
pgsession.django and pgsession.flask.
"""
from __future__ import annotations

import weakref
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

import psycopg

from . import _sql
from ._sql import ExtensionVersionError, Session, SessionInfo, SessionNotBound

__all__ = [
    "ExtensionVersionError", "Session", "SessionInfo", "SessionNotBound", "bound", "create", "touch", "get", "regenerate", "set",
    "merge", "set_idle_timeout", "destroy", "destroy_user", "destroy_handle", "list_sessions", "prune",
]
__version__ = "1.6.0"

try:
    from psycopg_pool import ConnectionPool
except ImportError:  # the pool is optional
    ConnectionPool = None  # type: ignore[assignment,misc]

Target = Union["psycopg.Connection[Any]", "ConnectionPool"]


# Connections and pools whose database has an extension this client can
# speak to: checked at the first call on each (a failed check is made
# again at the next call), so that a too-old extension is an
# ExtensionVersionError naming both versions, not a later "function does
# not exist".
_checked: "weakref.WeakSet[Any]" = weakref.WeakSet()


def _check_version(target: Target, cur: "psycopg.Cursor[Any]") -> None:
    if target in _checked:
        return
    cur.execute(_sql.VERSIONS)
    problem = _sql.version_problem(cur.fetchall(), __version__)
    if problem is not None:
        raise problem
    _checked.add(target)


@contextmanager
def _cursor(target: Target) -> Iterator["psycopg.Cursor[Any]"]:
    if ConnectionPool is not None and isinstance(target, ConnectionPool):
        with target.connection() as conn, conn.cursor() as cur:
            _check_version(target, cur)
            yield cur
    else:
        with target.cursor() as cur:  # type: ignore[union-attr]
            _check_version(target, cur)
            yield cur


def _one(target: Target, sql: str, params: tuple[Any, ...]) -> Any:
    with _cursor(target) as cur:
        cur.execute(sql, params)
        row = cur.fetchone()
        return None if row is None else row[0]


def create(target: Target, user_id: Any = None, data: Optional[Mapping[str, Any]] = None,
           idle_timeout: Optional[timedelta] = None, absolute_timeout: Optional[timedelta] = None, *,
           max_sessions: Optional[int] = None, on_limit: Optional[str] = None) -> str:
    """A new session; its token.  None timeouts take the database's settings.
    max_sessions (0: none) and on_limit ("evict" or "refuse") are this
    call's own limit on the user's live sessions (extension 1.6; None: the
    database's settings); refused, psycopg raises
    errors.ConfigurationLimitExceeded (SQLSTATE 53400)."""
    return _one(target, *_sql.with_limit(
        _sql.CREATE, _sql.CREATE_LIMITED,
        (_sql.user(user_id), _sql.jsonb(data or {}), _sql.interval(idle_timeout), _sql.interval(absolute_timeout)),
        _sql.limit_of(max_sessions, on_limit)))


def touch(target: Target, token: Optional[str]) -> Optional[Session]:
    """The live session of token with its idle expiry rolled forward, or None."""
    with _cursor(target) as cur:
        cur.execute(_sql.TOUCH, (token,))
        return _sql.session_of(cur.fetchone())


def get(target: Target, token: Optional[str]) -> Optional[Session]:
    """The live session of token, never writing, or None."""
    with _cursor(target) as cur:
        cur.execute(_sql.GET, (token,))
        return _sql.session_of(cur.fetchone())


def regenerate(target: Target, token: Optional[str], user_id: Any = None, *,
               max_sessions: Optional[int] = None, on_limit: Optional[str] = None) -> Optional[str]:
    """A new token for the same session (the old one dead), or None.  With a
    user_id the session becomes that user's, within the limit as create's."""
    return _one(target, *_sql.with_limit(_sql.REGENERATE, _sql.REGENERATE_LIMITED, (token, _sql.user(user_id)),
                                         _sql.limit_of(max_sessions, on_limit)))


def set(target: Target, token: Optional[str], data: Mapping[str, Any]) -> bool:  # noqa: A001
    """Replace the data; False for an invalid token."""
    return bool(_one(target, _sql.SET, (token, _sql.jsonb(data))))


def merge(target: Target, token: Optional[str], patch: Mapping[str, Any],
          remove: Optional[Sequence[str]] = None) -> Optional[dict[str, Any]]:
    """Shallow merge; the new data, or None for an invalid token.  Without
    remove, a None value removes its key; with remove (extension 1.4),
    patch's values are kept as they are, None included, and the keys in
    remove go."""
    if remove is None:
        value = _one(target, _sql.MERGE, (token, _sql.jsonb(patch)))
    else:
        value = _one(target, _sql.MERGE_REMOVE, (token, _sql.jsonb(patch), [*remove]))
    return None if value is None else _sql._data(value)


def set_idle_timeout(target: Target, token: Optional[str], idle_timeout: Optional[timedelta]) -> Optional[datetime]:
    """That session's idle timeout from now on (None: the database's), its
    expiry moved to now plus it (extension 1.4); the new expiry, or None."""
    return _one(target, _sql.SET_IDLE_TIMEOUT, (token, _sql.interval(idle_timeout)))


def destroy(target: Target, token: Optional[str]) -> bool:
    """End the session; True if it was live."""
    return bool(_one(target, _sql.DESTROY, (token,)))


def destroy_user(target: Target, user_id: Any, except_token: Optional[str] = None) -> int:
    """End the user's sessions (but except_token's); how many ended."""
    return int(_one(target, _sql.DESTROY_USER, (_sql.user(user_id), except_token)))


def list_sessions(target: Target, user_id: Any) -> list[SessionInfo]:
    """The user's live sessions, oldest first (no tokens), each with its
    handle for destroy_handle (extension 1.6)."""
    with _cursor(target) as cur:
        cur.execute(_sql.LIST, (_sql.user(user_id),))
        names = _sql.column_names(cur.description)
        return [_sql.info_of(names, r) for r in cur.fetchall()]


def destroy_handle(target: Target, user_id: Any, handle: Optional[str]) -> bool:
    """End the user's session that list_sessions gave that handle ("sign out
    that device"); True if it was live.  A handle of another user's session
    ends nothing.  Extension 1.6."""
    try:
        return bool(_one(target, _sql.DESTROY_HANDLE, (_sql.user(user_id), handle)))
    except psycopg.errors.UndefinedFunction as err:
        raise _sql.destroy_handle_error(err) from err


def _create_row(target: Target, user_id: Any, data: Mapping[str, Any], idle_timeout: Optional[timedelta],
                absolute_timeout: Optional[timedelta],
                limit: _sql.Limit = None) -> tuple[Optional[str], Optional[Session]]:
    with _cursor(target) as cur:
        cur.execute(*_sql.with_limit(_sql.CREATE_ROW, _sql.CREATE_ROW_LIMITED,
                                     (_sql.user(user_id), _sql.jsonb(data), _sql.interval(idle_timeout),
                                      _sql.interval(absolute_timeout)), limit))
        return _sql.token_and_session(cur.fetchone())


def _regenerate_row(target: Target, token: str, user_id: Any,
                    limit: _sql.Limit = None) -> tuple[Optional[str], Optional[Session]]:
    with _cursor(target) as cur:
        cur.execute(*_sql.with_limit(_sql.REGENERATE_ROW, _sql.REGENERATE_ROW_LIMITED,
                                     (token, _sql.user(user_id)), limit))
        return _sql.token_and_session(cur.fetchone())


def prune(target: Target) -> int:
    """Admin: delete expired sessions now; how many went."""
    return int(_one(target, _sql.PRUNE, ()))


list = list_sessions  # noqa: A001  (the SQL function's name)
__all__.append("list")


@contextmanager
def bound(target: Target, token: Optional[str]) -> Iterator["psycopg.Connection[Any]"]:
    """A transaction with the token's session bound to it (session_bind,
    extension 1.5), for row-level security policies that read
    session_bound_user(): yields the connection (target itself, or one
    taken from the pool); commits when the block ends, rolls back on an
    exception.  SessionNotBound, with nothing bound, when the token names
    no live session."""
    if ConnectionPool is not None and isinstance(target, ConnectionPool):
        with target.connection() as conn, bound(conn, token) as c:
            yield c
        return
    conn = target
    with conn.transaction():  # type: ignore[union-attr]
        with conn.cursor() as cur:  # type: ignore[union-attr]
            _check_version(conn, cur)
            try:
                cur.execute(_sql.BIND, (token,))
            except psycopg.Error as err:
                raise _sql.bind_error(err) from err
            if cur.fetchone() is None:
                raise SessionNotBound("the session is not live (expired, destroyed, or not a token): nothing bound")
        yield conn  # type: ignore[misc]
