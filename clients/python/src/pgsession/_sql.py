"""The SQL of the extension's request functions and the conversion of their
rows: shared by the psycopg layer (sync and async) and the Django backend,
which runs it on Django's own connection.  Parameters are %s placeholders,
which psycopg 3, psycopg2 and Django's cursors all take."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Optional, Sequence

ROW = "user_id, data, created_at, expires_at, absolute_expires_at"

# What this client calls needs session 1.4 (session_merge with removals,
# session_set_idle_timeout), or session_proxy 1.1 on a router.
NEEDS = {"session": (1, 4), "session_proxy": (1, 1)}
VERSIONS = ("SELECT extname, extversion FROM pg_catalog.pg_extension"
            " WHERE extname OPERATOR(pg_catalog.=) ANY ('{session,session_proxy}'::text[])")


class ExtensionVersionError(RuntimeError):
    """The database has no session extension, or one too old for this client."""


class SessionNotBound(LookupError):
    """bound(): the token names no live session (expired, destroyed, forged,
    or none), so nothing was bound and the transaction was rolled back."""


def newer_error(err: Exception, call: str, version: str, function: str) -> Exception:
    """What an error from a function newer than 1.4 means: a database
    without it (undefined_function) is an ExtensionVersionError naming the
    version needed; anything else is itself."""
    # psycopg 3 names the code sqlstate, psycopg2 (Django's driver) pgcode
    if (getattr(err, "sqlstate", None) or getattr(err, "pgcode", None)) == "42883":
        return ExtensionVersionError(f"{call} needs the session extension {version} or newer ({function}): {err}")
    return err


def bind_error(err: Exception) -> Exception:
    """An error from session_bind (extension 1.5)."""
    return newer_error(err, "bound()", "1.5", "session_bind")


def destroy_handle_error(err: Exception) -> Exception:
    """An error from session_destroy_handle (extension 1.6)."""
    return newer_error(err, "destroy_handle()", "1.6", "session_destroy_handle")


def version_problem(rows: Sequence[Sequence[Any]], client: str) -> Optional[ExtensionVersionError]:
    """What is wrong with the extensions a database has (rows of VERSIONS), or None."""
    found = []
    for name, version in rows:
        need = NEEDS[name]
        have = tuple(int(p) for p in str(version).split("."))
        if have >= need:
            return None
        found.append(f"{name} {version} (needs {need[0]}.{need[1]} or newer)")
    if not found:
        return ExtensionVersionError(
            f"pgsession {client}: this database has neither the session extension nor the "
            "session_proxy router (CREATE EXTENSION session)")
    return ExtensionVersionError(
        f"pgsession {client}: this database's extension is too old: {', '.join(found)}; "
        "run ALTER EXTENSION ... UPDATE (see CHANGELOG.md)")

CREATE = "SELECT session_create(%s, %s::jsonb, %s::interval, %s::interval)"
TOUCH = f"SELECT {ROW} FROM session_touch(%s)"
BIND = f"SELECT {ROW} FROM session_bind(%s)"
GET = f"SELECT {ROW} FROM session_get(%s)"
REGENERATE = "SELECT session_regenerate(%s, %s)"
SET = "SELECT session_set(%s, %s::jsonb)"
MERGE = "SELECT session_merge(%s, %s::jsonb)"
# extension 1.4: values kept as they are (None too), removals named apart
MERGE_REMOVE = "SELECT session_merge(%s, %s::jsonb, %s::text[])"
SET_IDLE_TIMEOUT = "SELECT session_set_idle_timeout(%s, %s::interval)"
DESTROY = "SELECT session_destroy(%s)"
DESTROY_USER = "SELECT session_destroy_user(%s, %s)"
# every column: from extension 1.6 on they include each session's handle
# and when it was last used
LIST = "SELECT * FROM session_list(%s)"
DESTROY_HANDLE = "SELECT session_destroy_handle(%s, %s)"
PRUNE = "SELECT session_prune()"
# extension 1.6: a call's own per-user limit (max_sessions, on_limit)
CREATE_LIMITED = "SELECT session_create(%s, %s::jsonb, %s::interval, %s::interval, %s::int, %s)"
REGENERATE_LIMITED = "SELECT session_regenerate(%s, %s, %s::int, %s)"
# for the adapters, which need the new session's expiry for its cookie
_ROW = "SELECT t, r.user_id, r.data, r.created_at, r.expires_at, r.absolute_expires_at FROM "
CREATE_ROW = _ROW + "session_create(%s, %s::jsonb, %s::interval, %s::interval) AS t, LATERAL session_get(t) AS r"
CREATE_ROW_LIMITED = (_ROW + "session_create(%s, %s::jsonb, %s::interval, %s::interval, %s::int, %s) AS t,"
                      " LATERAL session_get(t) AS r")
REGENERATE_ROW = _ROW + "session_regenerate(%s, %s) AS t, LATERAL session_get(t) AS r"
REGENERATE_ROW_LIMITED = _ROW + "session_regenerate(%s, %s, %s::int, %s) AS t, LATERAL session_get(t) AS r"

# A per-user limit as the clients take it: (max_sessions, on_limit), None
# for the database's settings.
Limit = Optional[tuple[Optional[int], Optional[str]]]


def limit_of(max_sessions: Optional[int], on_limit: Optional[str]) -> Limit:
    """The limit a call asks for, or None when it asks for none of its own."""
    return None if max_sessions is None and on_limit is None else (max_sessions, on_limit)


def with_limit(sql: str, limited_sql: str, params: tuple[Any, ...], limit: Limit) -> tuple[str, tuple[Any, ...]]:
    """The statement and parameters of a call, with the call's limit if it has one."""
    return (sql, params) if limit is None else (limited_sql, params + limit)


@dataclass(frozen=True)
class Session:
    """A live session, as session_touch or session_get return it."""

    user_id: Optional[str]
    data: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    absolute_expires_at: Optional[datetime]

    @property
    def ends_at(self) -> datetime:
        """When the session ends: its idle expiry, bounded by the absolute one."""
        if self.absolute_expires_at is None:
            return self.expires_at
        return min(self.expires_at, self.absolute_expires_at)


@dataclass(frozen=True)
class SessionInfo:
    """One of a user's live sessions, as session_list gives it (no token).
    handle names it for destroy_handle; last_used_at is when a request last
    rolled its expiry, to within session.touch_interval.  Both are None
    before extension 1.6 and through a session_proxy router."""

    created_at: datetime
    expires_at: datetime
    absolute_expires_at: Optional[datetime]
    data: dict[str, Any]
    handle: Optional[str] = None
    last_used_at: Optional[datetime] = None


def _data(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def session_of(row: Optional[Sequence[Any]]) -> Optional[Session]:
    if row is None:
        return None
    return Session(row[0], _data(row[1]), row[2], row[3], row[4])


def token_and_session(row: Optional[Sequence[Any]]) -> tuple[Optional[str], Optional[Session]]:
    if row is None:
        return None, None
    return row[0], session_of(row[1:])


def info_of(names: Sequence[str], row: Sequence[Any]) -> SessionInfo:
    """A row of LIST, whose columns are named in names (cursor.description)."""
    r = dict(zip(names, row))
    return SessionInfo(r["created_at"], r["expires_at"], r["absolute_expires_at"], _data(r["data"]),
                       r.get("handle"), r.get("last_used_at"))


def column_names(description: Any) -> list[str]:
    """The column names of a DB-API cursor.description (psycopg 3 and 2 alike)."""
    return [d[0] for d in description]


def fingerprints(data: Mapping[str, Any]) -> dict[str, str]:
    """Each key's value as canonical JSON: what a later diff compares against."""
    return {k: json.dumps(v, sort_keys=True, default=str) for k, v in data.items()}


def patch(orig: Mapping[str, str], data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What session_merge(token, patch, remove) needs to go from orig
    (fingerprints) to data: the keys whose values changed, with their values
    (None included), and the keys that went."""
    now = fingerprints(data)
    changed = {k: data[k] for k, j in now.items() if orig.get(k) != j}
    return changed, [k for k in orig if k not in data]


def jsonb(value: Mapping[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"))


def interval(value: Optional[timedelta]) -> Optional[str]:
    if value is None:
        return None
    return f"{value.total_seconds()} seconds"


def user(value: Any) -> Optional[str]:
    return None if value is None else str(value)
