"""Django: SESSION_ENGINE = "pgsession.django".

A SessionStore on Django's SessionBase that keeps sessions with the
extension, on Django's own database connection (PGSESSION_DATABASE, the
"default" alias unless set; its role needs EXECUTE on the request
functions).  The session key is the token.  load is one session_touch;
create is session_create; save merges only the keys that changed
(session_merge); delete is session_destroy; cycle_key (which
django.contrib.auth.login calls) is session_regenerate, keeping the data;
clear_expired is session_prune.  The logged-in user (_auth_user_id) is the
database's user_id.  Expiry is the database's: a new session's idle timeout
is get_expiry_age() (SESSION_COOKIE_AGE, or set_expiry before the first
save); a loaded session's get_expiry_date() is its expiry in the database.
A save that finds its session ended elsewhere raises UpdateError (Django
answers SessionInterrupted): it is never brought back.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Optional

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase, UpdateError
from django.db import connections

from . import _sql

USER_KEY = "_auth_user_id"


def _connection() -> Any:
    return connections[getattr(settings, "PGSESSION_DATABASE", "default")]


def _fetch(sql: str, params: tuple[Any, ...]) -> Optional[tuple[Any, ...]]:
    with _connection().cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchone()


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
            self._row = None
            self._orig = {}
            return {}
        self._remember(row)
        return dict(row.data)

    def _remember(self, row: Optional[_sql.Session], data: Optional[dict[str, Any]] = None) -> None:
        self._row = row
        source = data if data is not None else (row.data if row else {})
        self._orig = _sql.fingerprints(source)

    def exists(self, session_key: Optional[str]) -> bool:
        return _fetch(_sql.GET, (session_key,)) is not None

    # -- writing

    def create(self) -> None:
        data = self._get_session(no_load=True)
        idle = timedelta(seconds=self.get_expiry_age())
        row = _fetch(_sql.CREATE_ROW, (_sql.user(data.get(USER_KEY)), _sql.jsonb(data), _sql.interval(idle), None))
        token, session = _sql.token_and_session(row)
        self._session_key = token
        self._remember(session, data)
        self.modified = True

    def save(self, must_create: bool = False) -> None:
        if self.session_key is None or must_create:
            return self.create()
        data = self._get_session()
        user = _sql.user(data.get(USER_KEY))
        if user is not None and self._row is not None and user != self._row.user_id:
            self._regenerate(user)
        patch = _sql.patch(self._orig, data)
        if patch:
            if _fetch(_sql.MERGE, (self.session_key, _sql.jsonb(patch)))[0] is None:
                raise UpdateError
            self._orig = _sql.fingerprints(data)

    def _regenerate(self, user: Optional[str]) -> None:
        token, row = _sql.token_and_session(_fetch(_sql.REGENERATE_ROW, (self.session_key, user)))
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

    def delete(self, session_key: Optional[str] = None) -> None:
        key = session_key if session_key is not None else self.session_key
        if key is None:
            return
        _fetch(_sql.DESTROY, (key,))
        if session_key is None or session_key == self.session_key:
            self._row = None
            self._orig = {}

    @classmethod
    def clear_expired(cls) -> None:
        _fetch(_sql.PRUNE, ())

    # -- expiry: the database's

    def get_expiry_date(self, **kwargs: Any) -> datetime:
        if self._row is not None and "modification" not in kwargs and "expiry" not in kwargs:
            return self._row.ends_at
        return super().get_expiry_date(**kwargs)

    def get_expiry_age(self, **kwargs: Any) -> int:
        if self._row is not None and "modification" not in kwargs and "expiry" not in kwargs:
            return max(0, int((self._row.ends_at - datetime.now(timezone.utc)).total_seconds()))
        return super().get_expiry_age(**kwargs)
