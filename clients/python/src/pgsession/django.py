"""Django: SESSION_ENGINE = "pgsession.django".

A SessionStore on Django's SessionBase that keeps sessions with the
extension, on Django's own database connection (PGSESSION_DATABASE, the
"default" alias unless set; its role needs EXECUTE on the request
functions).  The session key is the token.  load is one session_touch;
create is session_create; save merges only the keys that changed
(session_merge with removals named apart, so a None value is kept); delete
is session_destroy; cycle_key (which django.contrib.auth.login calls) is
session_regenerate, keeping the data; clear_expired is session_prune.  The
logged-in user (_auth_user_id) is the database's user_id.

Expiry is the database's: a new session's idle timeout is get_expiry_age()
(SESSION_COOKIE_AGE, or what set_expiry gave); set_expiry on a stored
session changes that session's idle timeout at the next save
(session_set_idle_timeout), and an expiry already past ends it (or, for a
session not yet stored, stores nothing).  A loaded session's
get_expiry_date() is its expiry in the database, naive in the current time
zone when USE_TZ is False, as Django's own dates are.  A save that finds
its session ended elsewhere raises UpdateError (Django answers
SessionInterrupted), whether or not it changed anything: it is never
brought back.  Values are stored as JSON (jsonb), as Django's default
JSONSerializer would; set_expiry's datetime is kept as an ISO string.

bound(request) is a transaction (transaction.atomic) on that connection
with the request's session bound (session_bind, extension 1.5), for
row-level security policies that read session_bound_user(): queries of the
ORM or a cursor on that database inside the block see it.

list_sessions(user_id) and destroy_handle(user_id, handle) are a "your
devices" page on that connection (extension 1.6): the user's sessions with
their handles, and one of them ended by its handle.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator, Optional

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.db import connections, transaction
from django.http import HttpRequest
from django.utils import timezone

from . import __version__, _sql

USER_KEY = "_auth_user_id"
EXPIRY_KEY = "_session_expiry"


def _connection() -> Any:
    return connections[getattr(settings, "PGSESSION_DATABASE", "default")]


# The database aliases whose extension is known to be new enough; checked
# at the first call on each (again after a failed check).
_checked: set[str] = set()


def _check_version(conn: Any, cur: Any) -> None:
    if conn.alias not in _checked:
        cur.execute(_sql.VERSIONS)
        problem = _sql.version_problem(cur.fetchall(), __version__)
        if problem is not None:
            raise problem
        _checked.add(conn.alias)


def _fetch(sql: str, params: tuple[Any, ...]) -> Optional[tuple[Any, ...]]:
    conn = _connection()
    with conn.cursor() as cur:
        _check_version(conn, cur)
        cur.execute(sql, params)
        return cur.fetchone()


def _limit() -> _sql.Limit:
    """PGSESSION_MAX_SESSIONS_PER_USER and PGSESSION_ON_SESSION_LIMIT: the
    app's own limit on a user's live sessions (extension 1.6), or None for
    the database's settings."""
    return _sql.limit_of(getattr(settings, "PGSESSION_MAX_SESSIONS_PER_USER", None),
                         getattr(settings, "PGSESSION_ON_SESSION_LIMIT", None))


def _stored(data: dict[str, Any]) -> dict[str, Any]:
    """data as it is stored: set_expiry's datetime as an ISO string."""
    expiry = data.get(EXPIRY_KEY)
    if isinstance(expiry, datetime):
        return {**data, EXPIRY_KEY: expiry.isoformat()}
    return data


def _loaded(data: dict[str, Any]) -> dict[str, Any]:
    """data as Django's SessionBase reads it: the expiry as a datetime."""
    expiry = data.get(EXPIRY_KEY)
    if isinstance(expiry, str):
        return {**data, EXPIRY_KEY: datetime.fromisoformat(expiry)}
    return data


def _aware(value: datetime) -> datetime:
    """A time from the database as an aware one.  Django's connection gives
    naive times in TIME_ZONE when USE_TZ is off (its session time zone)."""
    if timezone.is_aware(value):
        return value
    return timezone.make_aware(value, timezone.get_default_timezone())


def _local(value: datetime) -> datetime:
    """A time from the database as Django's own are: aware when USE_TZ is
    on, else naive in the current time zone."""
    value = _aware(value)
    return value if settings.USE_TZ else timezone.make_naive(value)


class SessionStore(SessionBase):
    def __init__(self, session_key: Optional[str] = None) -> None:
        super().__init__(session_key)
        self._row: Optional[_sql.Session] = None
        self._orig: dict[str, str] = {}

    # -- reading

    def load(self) -> dict[str, Any]:
        row = _sql.session_of(_fetch(_sql.TOUCH, (self.session_key,)))
        if row is None:
            self._session_key = None
            self._remember(None, {})
            return {}
        self._remember(row, row.data)
        return _loaded(dict(row.data))

    def _remember(self, row: Optional[_sql.Session], stored: dict[str, Any]) -> None:
        """What the database holds now: the row, and the data as stored."""
        self._row = row
        self._orig = _sql.fingerprints(stored)

    def exists(self, session_key: Optional[str]) -> bool:
        return _fetch(_sql.GET, (session_key,)) is not None

    # -- writing

    def _expiry_changed(self) -> bool:
        """Did set_expiry change the expiry since the database last had it?"""
        data = self._get_session()
        stored = _stored({EXPIRY_KEY: data[EXPIRY_KEY]}) if EXPIRY_KEY in data else {}
        return _sql.fingerprints(stored).get(EXPIRY_KEY) != self._orig.get(EXPIRY_KEY)

    def create(self) -> None:
        data = self._get_session(no_load=True)
        age = self.get_expiry_age()
        self.modified = True
        if age <= 0:
            # already expired: nothing to keep, no token to give
            self._session_key = None
            self._remember(None, {})
            return
        stored = _stored(data)
        row = _fetch(*_sql.with_limit(_sql.CREATE_ROW, _sql.CREATE_ROW_LIMITED,
                                      (_sql.user(data.get(USER_KEY)), _sql.jsonb(stored),
                                       _sql.interval(timedelta(seconds=age)), None), _limit()))
        token, session = _sql.token_and_session(row)
        self._session_key = token
        self._remember(session, stored)

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None or must_create:
            return self.create()
        data = self._get_session()
        if self._expiry_changed():
            age = self.get_expiry_age()
            if age <= 0:
                # set to a time already past: the session ends now
                self.delete()
                self._session_key = None
                return
            ends = _fetch(_sql.SET_IDLE_TIMEOUT, (self.session_key, _sql.interval(timedelta(seconds=age))))[0]
            if ends is None:
                raise UpdateError
            if self._row is not None:
                self._row = _sql.Session(self._row.user_id, self._row.data, self._row.created_at, ends,
                                         self._row.absolute_expires_at)
        user = _sql.user(data.get(USER_KEY))
        if user is not None and self._row is not None and user != self._row.user_id:
            self._regenerate(user)
        stored = _stored(data)
        changed, removed = _sql.patch(self._orig, stored)
        if changed or removed:
            if _fetch(_sql.MERGE_REMOVE, (self.session_key, _sql.jsonb(changed), removed))[0] is None:
                raise UpdateError
        elif _fetch(_sql.TOUCH, (self.session_key,)) is None:
            # nothing to write, but the response must not carry a dead token
            raise UpdateError
        self._orig = _sql.fingerprints(stored)

    def _regenerate(self, user: Optional[str]) -> None:
        token, row = _sql.token_and_session(_fetch(*_sql.with_limit(
            _sql.REGENERATE_ROW, _sql.REGENERATE_ROW_LIMITED, (self.session_key, user),
            _limit() if user is not None else None)))
        if token is None:
            raise UpdateError
        self._session_key = token
        self._row = row

    def cycle_key(self) -> None:
        """A new token for this session, the data kept (session_regenerate)."""
        data = self._get_session()
        if self.session_key is None:
            return self.create()
        self._regenerate(_sql.user(data.get(USER_KEY)))
        self.modified = True

    async def acycle_key(self) -> None:
        """cycle_key for async code (Django 5's async session API), which
        SessionBase would otherwise do as a create and a delete."""
        await sync_to_async(self.cycle_key)()

    def delete(self, session_key: Optional[str] = None) -> None:
        key = session_key if session_key is not None else self.session_key
        if key is None:
            return
        _fetch(_sql.DESTROY, (key,))
        if session_key is None or session_key == self.session_key:
            self._remember(None, {})

    @classmethod
    def clear_expired(cls) -> None:
        _fetch(_sql.PRUNE, ())

    # -- expiry: the database's, unless set_expiry changed it since

    def _database_expiry(self, kwargs: dict[str, Any]) -> Optional[datetime]:
        if self._row is None or "modification" in kwargs or "expiry" in kwargs or self._expiry_changed():
            return None
        return self._row.ends_at

    def get_expiry_date(self, **kwargs: Any) -> datetime:
        ends = self._database_expiry(kwargs)
        if ends is None:
            return super().get_expiry_date(**kwargs)
        return _local(ends)

    def get_expiry_age(self, **kwargs: Any) -> int:
        ends = self._database_expiry(kwargs)
        if ends is None:
            return super().get_expiry_age(**kwargs)
        return max(0, int((_aware(ends) - datetime.now(dt_timezone.utc)).total_seconds()))


def list_sessions(user_id: Any) -> list[_sql.SessionInfo]:
    """The user's live sessions on the sessions' database, oldest first (no
    tokens), each with its handle for destroy_handle (extension 1.6); times
    as Django's own are."""
    conn = _connection()
    with conn.cursor() as cur:
        _check_version(conn, cur)
        cur.execute(_sql.LIST, (_sql.user(user_id),))
        names = _sql.column_names(cur.description)
        infos = [_sql.info_of(names, r) for r in cur.fetchall()]
    return [replace(i, created_at=_local(i.created_at), expires_at=_local(i.expires_at),
                    absolute_expires_at=i.absolute_expires_at and _local(i.absolute_expires_at),
                    last_used_at=i.last_used_at and _local(i.last_used_at)) for i in infos]


def destroy_handle(user_id: Any, handle: Optional[str]) -> bool:
    """End the user's session that list_sessions gave that handle ("sign out
    that device"); True if it was live.  A handle of another user's session
    ends nothing.  Extension 1.6."""
    try:
        row = _fetch(_sql.DESTROY_HANDLE, (_sql.user(user_id), handle))
    except Exception as err:
        e = _sql.destroy_handle_error(err.__cause__ or err)
        if isinstance(e, _sql.ExtensionVersionError):
            raise e from err
        raise
    return bool(row and row[0])


@contextmanager
def bound(request: HttpRequest) -> Iterator[None]:
    """A transaction on the sessions' database with request.session bound
    to it; commits when the block ends, rolls back on an exception.
    pgsession.SessionNotBound, with nothing bound, when the request has no
    live stored session."""
    conn = _connection()
    with transaction.atomic(using=conn.alias):
        with conn.cursor() as cur:
            _check_version(conn, cur)
            try:
                cur.execute(_sql.BIND, (request.session.session_key,))
            except Exception as err:
                raise _sql.bind_error(err.__cause__ or err) from err
            if cur.fetchone() is None:
                raise _sql.SessionNotBound("the request has no live stored session: nothing bound")
        yield
