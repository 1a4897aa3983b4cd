"""The psycopg layer: every function, sync and async, on a connection and
on a pool; bad tokens; a destroyed session."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

import pgsession
from pgsession import aio

BAD = [None, "", "x", "A" * 32 + "." + "B" * 43, "A" * 76]


@pytest.fixture()
def conn(server):
    with psycopg.connect(server.conninfo(), autocommit=True, prepare_threshold=None) as c:
        yield c


def test_life_of_a_session(conn):
    tok = pgsession.create(conn, "alice", {"cart": []}, idle_timeout=timedelta(hours=1))
    assert len(tok) == 76
    row = pgsession.touch(conn, tok)
    assert row.user_id == "alice" and row.data == {"cart": []}
    assert row.absolute_expires_at is None or row.ends_at <= row.absolute_expires_at
    assert timedelta(minutes=59) < row.expires_at - row.created_at <= timedelta(hours=1, seconds=1)
    assert pgsession.get(conn, tok).data == {"cart": []}
    assert pgsession.merge(conn, tok, {"role": "admin", "cart": None}) == {"role": "admin"}
    assert pgsession.set(conn, tok, {"only": 1}) is True
    new = pgsession.regenerate(conn, tok, "alice2")
    assert new and new != tok
    assert pgsession.touch(conn, tok) is None
    assert pgsession.touch(conn, new).user_id == "alice2"
    assert [s.data for s in pgsession.list_sessions(conn, "alice2")] == [{"only": 1}]
    assert pgsession.list is pgsession.list_sessions
    assert pgsession.destroy(conn, new) is True
    assert pgsession.destroy(conn, new) is False
    assert pgsession.touch(conn, new) is None
    assert pgsession.merge(conn, new, {"x": 1}) is None, "a destroyed session is not brought back"
    assert pgsession.set(conn, new, {"x": 1}) is False


def test_destroy_user_and_list(conn):
    keep = pgsession.create(conn, "bob")
    pgsession.create(conn, "bob")
    pgsession.create(conn, 77)
    assert len(pgsession.list_sessions(conn, "bob")) == 2
    assert pgsession.destroy_user(conn, "bob", except_token=keep) == 1
    assert pgsession.touch(conn, keep) is not None
    assert pgsession.destroy_user(conn, "bob") == 1
    assert pgsession.list_sessions(conn, 77)[0].data == {}


def test_devices_handles_and_destroy_handle(conn):
    phone = pgsession.create(conn, "erin", {"device": "phone"})
    laptop = pgsession.create(conn, "erin", {"device": "laptop"})
    pgsession.create(conn, "frank")
    devices = pgsession.list_sessions(conn, "erin")
    assert [d.data["device"] for d in devices] == ["phone", "laptop"]
    for d in devices:
        assert d.handle is not None and len(d.handle) == 43
        assert d.handle not in phone and d.handle not in laptop, "a handle is no part of a token"
        assert d.last_used_at is not None and d.last_used_at >= d.created_at
    assert pgsession.list_sessions(conn, "erin")[0].handle == devices[0].handle, "a handle is stable"
    assert pgsession.destroy_handle(conn, "frank", devices[0].handle) is False, "another user's handle"
    assert pgsession.destroy_handle(conn, "erin", "not a handle") is False
    assert pgsession.destroy_handle(conn, "erin", None) is False
    assert pgsession.touch(conn, phone) is not None
    assert pgsession.destroy_handle(conn, "erin", devices[0].handle) is True
    assert pgsession.touch(conn, phone) is None
    assert pgsession.touch(conn, laptop) is not None
    assert pgsession.destroy_handle(conn, "erin", devices[0].handle) is False


def test_a_calls_own_limit_on_a_users_sessions(conn):
    first = pgsession.create(conn, "gina", max_sessions=2)
    second = pgsession.create(conn, "gina", max_sessions=2)
    pgsession.set_idle_timeout(conn, first, timedelta(hours=1))  # first used last
    third = pgsession.create(conn, "gina", max_sessions=2, on_limit="evict")
    assert pgsession.touch(conn, second) is None, "the least recently used ended"
    assert pgsession.touch(conn, first) is not None and pgsession.touch(conn, third) is not None
    with pytest.raises(psycopg.errors.ConfigurationLimitExceeded, match="most live sessions allowed"):
        pgsession.create(conn, "gina", max_sessions=2, on_limit="refuse")
    anon = pgsession.create(conn, None, {"cart": 1})
    with pytest.raises(psycopg.errors.ConfigurationLimitExceeded):
        pgsession.regenerate(conn, anon, "gina", max_sessions=2, on_limit="refuse")
    assert pgsession.touch(conn, anon).user_id is None, "refused: nothing written"
    assert pgsession.regenerate(conn, anon, "gina", max_sessions=0) is not None, "0: no limit"
    assert len(pgsession.list_sessions(conn, "gina")) == 3
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="on_limit must be"):
        pgsession.create(conn, "gina", max_sessions=2, on_limit="drop")
    assert pgsession.destroy_user(conn, "gina") == 3


@pytest.mark.parametrize("bad", BAD)
def test_bad_tokens_are_none_never_an_error(conn, bad):
    assert pgsession.touch(conn, bad) is None
    assert pgsession.get(conn, bad) is None
    assert pgsession.regenerate(conn, bad) is None
    assert pgsession.merge(conn, bad, {"a": 1}) is None
    assert pgsession.set(conn, bad, {"a": 1}) is False
    assert pgsession.destroy(conn, bad) is False


def test_database_errors_pass_through(conn):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="idle_timeout must be greater than zero"):
        pgsession.create(conn, None, {}, idle_timeout=timedelta(seconds=-1))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        pgsession.prune(conn)  # the app role may not


def test_on_a_pool(server):
    with ConnectionPool(server.conninfo(), kwargs={"prepare_threshold": None}, min_size=1, max_size=2) as pool:
        tok = pgsession.create(pool, "carol", {"a": 1})
        assert pgsession.touch(pool, tok).data == {"a": 1}
        assert pgsession.destroy(pool, tok)


def test_prune_as_the_owner(server):
    with psycopg.connect(server.conninfo(user="postgres"), autocommit=True) as c:
        assert pgsession.prune(c) >= 0


def test_async(server):
    async def main() -> None:
        async with await psycopg.AsyncConnection.connect(server.conninfo(), autocommit=True,
                                                          prepare_threshold=None) as c:
            tok = await aio.create(c, "dave", {"n": 1})
            assert (await aio.touch(c, tok)).data == {"n": 1}
            assert (await aio.get(c, tok)).user_id == "dave"
            assert await aio.merge(c, tok, {"m": 2}) == {"n": 1, "m": 2}
            assert await aio.set(c, tok, {"z": 0})
            new = await aio.regenerate(c, tok)
            assert await aio.touch(c, tok) is None
            [listed] = await aio.list_sessions(c, "dave")
            assert listed.handle is not None
            assert await aio.destroy_handle(c, "someone else", listed.handle) is False
            assert await aio.destroy_user(c, "dave", new) == 0
            assert await aio.destroy(c, new)
            assert await aio.touch(c, "junk") is None
        async with AsyncConnectionPool(server.conninfo(), kwargs={"prepare_threshold": None},
                                       min_size=1, max_size=2) as pool:
            tok = await aio.create(pool)
            assert (await aio.touch(pool, tok)).data == {}

        async with await psycopg.AsyncConnection.connect(server.conninfo(user="postgres"), autocommit=True,
                                                          prepare_threshold=None) as owner:
            assert await aio.prune(owner) >= 0

    asyncio.run(main())


def test_an_extension_too_old_is_named_at_the_first_call(server):
    """A database at 1.3 fails the first call with both versions named and
    writes nothing; once updated the same connection works (a failed check
    is made again); a database without the extension says so."""
    from conftest import REQUEST_FUNCTIONS_1_4

    server.psql("CREATE DATABASE pyoldext")
    server.psql("CREATE EXTENSION session VERSION '1.3'", "pyoldext")
    with psycopg.connect(server.conninfo(db="pyoldext"), autocommit=True) as c:
        with pytest.raises(pgsession.ExtensionVersionError,
                           match=r"session 1\.3 \(needs 1\.4 or newer\).*ALTER EXTENSION"):
            pgsession.create(c, "old")
        assert server.psql("SELECT count(*) FROM session_internal.sessions", "pyoldext") == "0"
        server.psql(f"ALTER EXTENSION session UPDATE TO '1.4'; GRANT EXECUTE ON FUNCTION {REQUEST_FUNCTIONS_1_4} TO app",
                    "pyoldext")
        tok = pgsession.create(c, "new")
        assert pgsession.touch(c, tok).user_id == "new"
        # bound() needs 1.5 (session_bind)
        with pytest.raises(pgsession.ExtensionVersionError, match=r"1\.5 or newer"):
            with pgsession.bound(c, tok):
                pass
        # handles need 1.6: listed without them, and destroy_handle says so
        assert [(i.handle, i.last_used_at) for i in pgsession.list_sessions(c, "new")] == [(None, None)]
        with pytest.raises(pgsession.ExtensionVersionError, match=r"1\.6 or newer"):
            pgsession.destroy_handle(c, "new", "x" * 43)

    server.psql("CREATE DATABASE pynoext")
    with psycopg.connect(server.conninfo(db="pynoext"), autocommit=True) as c:
        with pytest.raises(pgsession.ExtensionVersionError, match="neither the session extension"):
            pgsession.touch(c, "x")

    async def on_async():
        async with await psycopg.AsyncConnection.connect(server.conninfo(db="pynoext"), autocommit=True) as c:
            with pytest.raises(pgsession.ExtensionVersionError, match="neither the session extension"):
                await aio.touch(c, "x")
    asyncio.run(on_async())
