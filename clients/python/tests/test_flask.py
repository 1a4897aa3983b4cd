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
    app.config.update(SESSION_COOKIE_SAMESITE="Lax")
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
    assert "Expires" not in h and "Max-Age" not in h, "not permanent (Flask's default): a browser-session cookie"
    r = c.post("/cart", data={"item": "jam"}, base_url="https://localhost")
    assert any("Secure" in x for x in set_cookie(r)), "Secure when the request is"
    bad = app.test_client()
    give(bad, "junk")
    r = bad.get("/me")
    assert any(x.startswith("session=;") for x in set_cookie(r)), "a bad cookie is cleared"


def test_flask_idioms_and_types_round_trip_through_the_database(app, server):
    """session.modified = True after a nested change (Flask's documented
    idiom), a None value kept, and the types Flask's own session keeps
    (tuples, bytes, Markup, UUID, datetime, flashed messages with their
    categories), read back on a later request from the database."""
    import uuid
    from datetime import datetime, timezone

    from flask import flash, get_flashed_messages
    from markupsafe import Markup

    when = datetime(2026, 12, 7, 6, 30, tzinfo=timezone.utc)
    the_uuid = uuid.UUID("12345678-1234-5678-1234-567812345678")

    @app.post("/types")
    def types():
        session["t"] = (1, 2, 3)
        session["b"] = b"\xff"
        session["m"] = Markup("<em>hi</em>")
        session["u"] = the_uuid
        session["d"] = when
        session["none"] = None
        session["nested"] = {"items": []}
        flash(Markup("<b>saved</b>"), "warning")
        return ""

    @app.post("/nested")
    def nested():
        session["nested"]["items"].append("tea")
        session.modified = True
        return ""

    @app.get("/read")
    def read():
        s = session
        ok = (s["t"] == (1, 2, 3) and type(s["b"]) is bytes and s["b"] == b"\xff"
              and type(s["m"]) is Markup and s["u"] == the_uuid and s["d"] == when
              and "none" in s and s["none"] is None)
        return {"ok": ok, "nested": s["nested"], "flashes": [[c, str(m), type(m) is Markup]
                                                            for c, m in get_flashed_messages(with_categories=True)]}

    c = app.test_client()
    assert c.post("/types").status_code == 200
    assert c.post("/nested").status_code == 200
    r = c.get("/read").get_json()
    assert r == {"ok": True, "nested": {"items": ["tea"]}, "flashes": [["warning", "<b>saved</b>", True]]}
    token = cookie(c)
    stored = server.psql(f"SELECT data->'none', data->'nested', data->'t' FROM session_get('{token}')")
    assert stored == 'null|{"items": ["tea"]}|{" t": [1, 2, 3]}', "plain values stay plain JSON, tags only where needed"


def test_permanent_and_browser_session_cookies(app, server):
    """Flask's session.permanent: PERMANENT_SESSION_LIFETIME in the cookie and
    as the idle timeout in the database; otherwise a browser-session cookie."""
    from datetime import datetime, timedelta, timezone

    from werkzeug.http import parse_date

    app.permanent_session_lifetime = timedelta(hours=2)

    @app.post("/remember")
    def remember():
        session["user_id"] = 1
        session.permanent = request.form["permanent"] == "yes"
        return ""

    c = app.test_client()
    (h,) = set_cookie(c.post("/remember", data={"permanent": "no"}))
    assert "Expires" not in h and "Max-Age" not in h
    (h,) = set_cookie(c.post("/remember", data={"permanent": "yes"}))
    expires = parse_date(h.split("Expires=")[1].split(";")[0])
    left = (expires - datetime.now(timezone.utc)).total_seconds()
    assert 7100 < left <= 7200
    token = cookie(c)
    idle = server.psql(f"SELECT idle_timeout FROM session_internal.sessions s, session_get('{token}') g"
                       " WHERE s.user_id = g.user_id AND s.created_at = g.created_at")
    assert idle == "02:00:00"


def test_cookie_and_vary_follow_flasks_rules(app, server):
    """A route that never touches the session gets neither Set-Cookie nor
    Vary; an unchanged one gets Vary only, and the cookie again only for a
    permanent session with SESSION_REFRESH_EACH_REQUEST."""

    @app.post("/perm")
    def perm():
        session["n"] = 1
        session.permanent = True
        return ""

    @app.get("/look")
    def look():
        return {"n": session.get("n")}

    c = app.test_client()
    c.post("/cart", data={"item": "tea"})  # not permanent
    r = c.get("/public")
    assert set_cookie(r) == [] and "Vary" not in r.headers
    r = c.get("/look")
    assert set_cookie(r) == [] and r.headers["Vary"] == "Cookie"

    p = app.test_client()
    p.post("/perm")
    assert set_cookie(p.get("/look")) != [], "permanent, refreshed on each request (Flask's default)"
    app.config["SESSION_REFRESH_EACH_REQUEST"] = False
    assert set_cookie(p.get("/look")) == [], "SESSION_REFRESH_EACH_REQUEST = False: only when changed"
    assert set_cookie(p.post("/perm")) != [], "a change still sends it"


def test_max_sessions_per_user_evicts_or_refuses(app, server):
    """SessionInterface(max_sessions_per_user=, on_session_limit=): a third
    login of user 7 ends the least recently used; refusing, it fails and
    writes nothing."""
    server.psql("SELECT session_destroy_user('7')")
    app.session_interface = SessionInterface(app.session_interface.pool, max_sessions_per_user=2)
    clients = [app.test_client() for _ in range(3)]
    for c in clients:
        assert c.post("/login", data={"password": "secret"}).status_code == 200
    assert rows(server, "user_id = '7'") == 2
    assert clients[0].get("/me").status_code == 401, "the first login, least recently used, ended"
    assert [c.get("/me").status_code for c in clients[1:]] == [200, 200]

    app.session_interface = SessionInterface(app.session_interface.pool, max_sessions_per_user=2,
                                             on_session_limit="refuse")
    app.testing = False
    resp = app.test_client().post("/login", data={"password": "secret"})
    assert resp.status_code == 500
    assert rows(server, "user_id = '7'") == 2
    server.psql("SELECT session_destroy_user('7')")
