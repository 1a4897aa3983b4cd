"""bound(): a transaction with the session bound to it (session_bind), for
row-level security, from psycopg (sync and async, connection and pool),
Flask and Django; against a table whose policy reads session_bound_user()
(through pgbouncer's transaction pooling too when PGBOUNCER is set)."""
from __future__ import annotations

import asyncio

import psycopg
import pytest
from flask import Flask, jsonify, session
from psycopg_pool import ConnectionPool

import pgsession
from pgsession import aio

POLICY = """
    CREATE TABLE IF NOT EXISTS notes (owner text NOT NULL, body text);
    ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
    DROP POLICY IF EXISTS own ON notes;
    CREATE POLICY own ON notes USING (owner = session_bound_user()) WITH CHECK (owner = session_bound_user());
    TRUNCATE notes;
    INSERT INTO notes VALUES ('{a}', 'a1'), ('{a}', 'a2'), ('{b}', 'b1');
"""


@pytest.fixture(scope="module")
def notes(server):
    server.psql(POLICY.format(a="rls-alice", b="rls-bob")
                + "GRANT SELECT, INSERT ON notes TO app;"
                + "GRANT EXECUTE ON FUNCTION session_bind(text), session_bound_user() TO app")


def bodies(conn):
    return [r[0] for r in conn.execute("SELECT body FROM notes ORDER BY body").fetchall()]


def test_a_connection_sees_its_users_rows_only_inside_the_block(server, notes):
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        alice = pgsession.create(conn, "rls-alice")
        bob = pgsession.create(conn, "rls-bob")
        assert bodies(conn) == []
        with pgsession.bound(conn, alice) as c:
            assert c is conn
            assert bodies(conn) == ["a1", "a2"]
        assert bodies(conn) == [], "the binding ended with the block's transaction"
        with pgsession.bound(conn, bob):
            assert bodies(conn) == ["b1"]
        with pytest.raises(pgsession.SessionNotBound):
            with pgsession.bound(conn, "not-a-token"):
                pass
        # an exception in the block rolls back what it wrote
        with pytest.raises(ZeroDivisionError):
            with pgsession.bound(conn, alice):
                conn.execute("INSERT INTO notes VALUES ('rls-alice', 'a9')")
                1 / 0
        assert server.psql("SELECT count(*) FROM notes WHERE body = 'a9'") == "0"
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with pgsession.bound(conn, alice):
                conn.execute("INSERT INTO notes VALUES ('rls-bob', 'forged')")


def test_a_pool_interleaved_users_and_a_destroyed_session(server, notes):
    with ConnectionPool(server.conninfo(), kwargs={"autocommit": True}, min_size=2, max_size=2) as pool:
        alice = pgsession.create(pool, "rls-alice")
        bob = pgsession.create(pool, "rls-bob")
        with pgsession.bound(pool, alice) as ca, pgsession.bound(pool, bob) as cb:
            assert bodies(ca) == ["a1", "a2"] and bodies(cb) == ["b1"]
        for _ in range(4):  # the pool's connections (pgbouncer's too) are unbound again
            with pool.connection() as c:
                assert bodies(c) == []
        pgsession.destroy(pool, alice)
        with pytest.raises(pgsession.SessionNotBound):
            with pgsession.bound(pool, alice):
                pass


def test_async(server, notes):
    async def run():
        async with await psycopg.AsyncConnection.connect(server.conninfo(), autocommit=True) as conn:
            tok = await aio.create(conn, "rls-bob")
            async with aio.bound(conn, tok):
                rows = await (await conn.execute("SELECT body FROM notes")).fetchall()
            with pytest.raises(pgsession.SessionNotBound):
                async with aio.bound(conn, None):
                    pass
            return [r[0] for r in rows]
    assert asyncio.run(run()) == ["b1"]


def test_flask(server, notes):
    from pgsession.flask import SessionInterface, bound

    pool = ConnectionPool(server.conninfo(), kwargs={"autocommit": True}, min_size=1, max_size=2)
    app = Flask(__name__)
    app.session_interface = SessionInterface(pool, user_key="user")

    @app.post("/login/<user>")
    def login(user):
        session.regenerate()
        session["user"] = f"rls-{user}"
        return jsonify(ok=True)

    @app.get("/notes")
    def notes_view():
        try:
            with bound(pool) as conn:
                return jsonify(notes=bodies(conn))
        except pgsession.SessionNotBound:
            return jsonify(error="Unauthorized"), 401

    try:
        client = app.test_client()
        assert client.get("/notes").status_code == 401
        client.post("/login/alice")
        assert client.get("/notes").get_json() == {"notes": ["a1", "a2"]}
    finally:
        pool.close()


def test_django(server, _django):
    from django.contrib.auth.models import User
    from django.test import Client

    user, _ = User.objects.get_or_create(username="notes-user")
    user.set_password("secret")
    user.save()
    server.psql(POLICY.format(a=user.pk, b=user.pk + 1000)
                + "GRANT SELECT ON notes TO django;"
                + "GRANT EXECUTE ON FUNCTION session_bind(text), session_bound_user() TO django", db="django")
    client = Client()
    assert client.get("/notes").status_code == 401
    assert client.post("/login", {"username": "notes-user", "password": "secret"}).status_code == 200
    assert client.get("/notes").json() == {"notes": ["a1", "a2"]}
