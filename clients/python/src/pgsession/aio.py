"""The async variants of pgsession's functions, on a psycopg
AsyncConnection or AsyncConnectionPool: the same names, arguments and
results, awaited."""
from __future__ import annotations

import weakref
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any, AsyncIterator, Dict, List, Mapping, Optional, Sequence, Union

import psycopg

from . import __version__, _sql
from ._sql import Session, SessionInfo

try:
    from psycopg_pool import AsyncConnectionPool
except ImportError:
    AsyncConnectionPool = None  # type: ignore[assignment,misc]

Target = Union["psycopg.AsyncConnection[Any]", "AsyncConnectionPool"]


_checked: "weakref.WeakSet[Any]" = weakref.WeakSet()


async def _check_version(target: Target, cur: "psycopg.AsyncCursor[Any]") -> None:
    """As pgsession's: the extension's version, at the first call on target."""
    if target in _checked:
        return
    await cur.execute(_sql.VERSIONS)
    problem = _sql.version_problem(await cur.fetchall(), __version__)
    if problem is not None:
        raise problem
    _checked.add(target)


@asynccontextmanager
async def _cursor(target: Target) -> AsyncIterator["psycopg.AsyncCursor[Any]"]:
    if AsyncConnectionPool is not None and isinstance(target, AsyncConnectionPool):
        async with target.connection() as conn, conn.cursor() as cur:
            await _check_version(target, cur)
            yield cur
    else:
        async with target.cursor() as cur:  # type: ignore[union-attr]
            await _check_version(target, cur)
            yield cur


async def _one(target: Target, sql: str, params: tuple[Any, ...]) -> Any:
    async with _cursor(target) as cur:
        await cur.execute(sql, params)
        row = await cur.fetchone()
        return None if row is None else row[0]


async def create(target: Target, user_id: Any = None, data: Optional[Mapping[str, Any]] = None,
                 idle_timeout: Optional[timedelta] = None,
                 absolute_timeout: Optional[timedelta] = None, *,
                 max_sessions: Optional[int] = None, on_limit: Optional[str] = None) -> str:
    """As pgsession.create."""
    return await _one(target, *_sql.with_limit(
        _sql.CREATE, _sql.CREATE_LIMITED,
        (_sql.user(user_id), _sql.jsonb(data or {}), _sql.interval(idle_timeout), _sql.interval(absolute_timeout)),
        _sql.limit_of(max_sessions, on_limit)))


async def touch(target: Target, token: Optional[str]) -> Optional[Session]:
    async with _cursor(target) as cur:
        await cur.execute(_sql.TOUCH, (token,))
        return _sql.session_of(await cur.fetchone())


async def get(target: Target, token: Optional[str]) -> Optional[Session]:
    async with _cursor(target) as cur:
        await cur.execute(_sql.GET, (token,))
        return _sql.session_of(await cur.fetchone())


async def regenerate(target: Target, token: Optional[str], user_id: Any = None, *,
                     max_sessions: Optional[int] = None, on_limit: Optional[str] = None) -> Optional[str]:
    """As pgsession.regenerate."""
    return await _one(target, *_sql.with_limit(_sql.REGENERATE, _sql.REGENERATE_LIMITED, (token, _sql.user(user_id)),
                                               _sql.limit_of(max_sessions, on_limit)))


async def set(target: Target, token: Optional[str], data: Mapping[str, Any]) -> bool:  # noqa: A001
    return bool(await _one(target, _sql.SET, (token, _sql.jsonb(data))))


async def merge(target: Target, token: Optional[str], patch: Mapping[str, Any],
                remove: Optional[Sequence[str]] = None) -> Optional[Dict[str, Any]]:
    """As pgsession.merge."""
    if remove is None:
        value = await _one(target, _sql.MERGE, (token, _sql.jsonb(patch)))
    else:
        value = await _one(target, _sql.MERGE_REMOVE, (token, _sql.jsonb(patch), [*remove]))
    return None if value is None else _sql._data(value)


async def set_idle_timeout(target: Target, token: Optional[str],
                           idle_timeout: Optional[timedelta]) -> Optional[datetime]:
    """As pgsession.set_idle_timeout."""
    return await _one(target, _sql.SET_IDLE_TIMEOUT, (token, _sql.interval(idle_timeout)))


async def destroy(target: Target, token: Optional[str]) -> bool:
    return bool(await _one(target, _sql.DESTROY, (token,)))


async def destroy_user(target: Target, user_id: Any, except_token: Optional[str] = None) -> int:
    return int(await _one(target, _sql.DESTROY_USER, (_sql.user(user_id), except_token)))


async def list_sessions(target: Target, user_id: Any) -> List[SessionInfo]:
    async with _cursor(target) as cur:
        await cur.execute(_sql.LIST, (_sql.user(user_id),))
        names = _sql.column_names(cur.description)
        return [_sql.info_of(names, r) for r in await cur.fetchall()]


async def destroy_handle(target: Target, user_id: Any, handle: Optional[str]) -> bool:
    """As pgsession.destroy_handle."""
    try:
        return bool(await _one(target, _sql.DESTROY_HANDLE, (_sql.user(user_id), handle)))
    except psycopg.errors.UndefinedFunction as err:
        raise _sql.destroy_handle_error(err) from err


async def prune(target: Target) -> int:
    return int(await _one(target, _sql.PRUNE, ()))


list = list_sessions  # noqa: A001


@asynccontextmanager
async def bound(target: Target, token: Optional[str]) -> AsyncIterator["psycopg.AsyncConnection[Any]"]:
    """As pgsession.bound, on an AsyncConnection or AsyncConnectionPool."""
    if AsyncConnectionPool is not None and isinstance(target, AsyncConnectionPool):
        async with target.connection() as conn, bound(conn, token) as c:
            yield c
        return
    conn = target
    async with conn.transaction():  # type: ignore[union-attr]
        async with conn.cursor() as cur:  # type: ignore[union-attr]
            await _check_version(conn, cur)
            try:
                await cur.execute(_sql.BIND, (token,))
            except psycopg.Error as err:
                raise _sql.bind_error(err) from err
            if await cur.fetchone() is None:
                raise _sql.SessionNotBound(
                    "the session is not live (expired, destroyed, or not a token): nothing bound")
        yield conn  # type: ignore[misc]
