"""Flask's session on the extension: the seed flow (login with regenerate,
a protected view, logout) through Flask's test client, lazy creation, and
the cookie's attributes."""
from __future__ import annotations

from importlib.metadata import version

import pytest
from flask import Flask, jsonify, request, session
from psycopg_pool import ConnectionPool

from pgsession.flask import SessionInterface


@pytest.fixture()
def app(server):
    pool = ConnectionPool(server.conninfo(), kwargs={"autocommit": True, "prepare_threshold": None},
                          min_size=1, max_size=4)
    app = Flask(__name__)
    app.session_interface = SessionInterface(pool)

    @app.post("/login")
    def login():
        if request.form.get("password") != "secret":
            return jsonify(error="bad credentials"), 401
        session.regenerate()
        session["user_id"] = 7
        return jsonify(ok=True)

    @app.get("/me")
    def me():
        if "user_id" not in session:
            return jsonify(error="Unauthorized"), 401
        return jsonify(user_id=session["user_id"])

    @app.post("/cart")
    def cart():
        session["cart"] = session.get("cart", []) + [request.form["item"]]
        return jsonify(cart=session["cart"])

    @app.post("/logout")
    def logout():
        session.destroy()
        return jsonify(ok=True)

    @app.get("/public")
    def public():
        return jsonify(hello="world")

    yield app
    pool.close()


WERKZEUG = tuple(int(x) for x in version("werkzeug").split(".")[:2])


def cookie(client):
    """The session cookie's value in a test client (Werkzeug 2.2 and 2.3+)."""
    if WERKZEUG >= (2, 3):
        c = client.get_cookie("session")
        return c and c.value
    return next((c.value for c in client.cookie_jar if c.name == "session"), None)


def give(client, value):
    if WERKZEUG >= (2, 3):
        client.set_cookie("session", value)
    else:
        client.set_cookie("localhost", "session", value)


def set_cookie(resp):
    return [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session=")]


def rows(server, where="true"):
    return int(server.psql(f"SELECT count(*) FROM session_internal.sessions WHERE {where}"))


def test_seed_flow(app, server):
    c = app.test_client()
    assert c.get("/me").status_code == 401
    r = c.post("/cart", data={"item": "tea"})
    anon = cookie(c)
    r = c.post("/login", data={"password": "secret"})
    assert r.status_code == 200
    token = cookie(c)
    assert token != anon
    assert rows(server, "user_id = '7'") >= 1
    assert c.get("/me").get_json() == {"user_id": 7}
    other = app.test_client()
    give(other, anon)
    assert other.get("/me").status_code == 401, "the pre-login token is dead"
    r = c.post("/logout")
    assert any("session=;" in h for h in r.headers.getlist("Set-Cookie")), "the cookie is cleared"
    assert c.get("/me").status_code == 401
    gone = app.test_client()
    give(gone, token)
    assert gone.get("/me").status_code == 401


def test_nothing_stored_nothing_sent(app, server):
    n = rows(server)
    r = app.test_client().get("/public")
    assert set_cookie(r) == []
    assert rows(server) == n


def test_cookie_attributes(app):
    c = app.test_client()
    r = c.post("/cart", data={"item": "tea"})
    (h,) = set_cookie(r)
    assert "HttpOnly" in h and "SameSite=Lax" in h and "Path=/" in h
    assert "Secure" not in h
    age = int(h.split("Max-Age=")[1].split(";")[0])
    assert 0 < age <= 7 * 24 * 3600
    r = c.get("/me", base_url="https://localhost")
    assert any("Secure" in x for x in set_cookie(r)), "Secure when the request is; sent again (rolling)"
    bad = app.test_client()
    give(bad, "junk")
    r = bad.get("/me")
    assert any(x.startswith("session=;") for x in set_cookie(r)), "a bad cookie is cleared"
