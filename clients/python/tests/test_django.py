"""Django's session engine on the extension: django.contrib.auth's login
(the key cycles, the old token dies), a view that needs a login, logout,
SESSION_SAVE_EVERY_REQUEST, parallel changes of different keys, a restart
of the app, and no resurrection of a destroyed session."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module", autouse=True)
def _imports(_django):
    """Django's modules, once conftest has configured its settings."""
    global User, UpdateError, connections, Client, override_settings, SessionStore
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.base import UpdateError
    from django.db import connections
    from django.test import Client
    from django.test.utils import override_settings

    from pgsession.django import SessionStore


@pytest.fixture(scope="module")
def alice(_imports):
    user, _ = User.objects.get_or_create(username="alice")
    user.set_password("secret")
    user.save()
    return user


def sessions(server, where="true"):
    return int(server.psql(f"SELECT count(*) FROM session_internal.sessions WHERE {where}", db="django"))


def test_login_cycles_the_key_and_logout_ends_the_session(server, alice):
    c = Client()
    assert c.get("/me").status_code == 401
    c.post("/set", {"theme": "dark"})
    before = c.cookies["sessionid"].value
    assert len(before) == 76
    r = c.post("/login", {"username": "alice", "password": "secret"})
    assert r.status_code == 200
    after = c.cookies["sessionid"].value
    assert after != before
    assert SessionStore(before).load() == {}, "the pre-login token is dead"
    assert c.get("/me").json() == {"user": "alice"}
    assert c.get("/get").json() == {"theme": "dark"}, "login keeps the data, as Django does"
    assert sessions(server, f"user_id = '{alice.pk}'") >= 1
    cookie = c.cookies["sessionid"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert 3590 < int(cookie["max-age"]) <= 3600
    c.post("/logout")
    assert c.get("/me").status_code == 401
    assert SessionStore(after).load() == {}
    assert sessions(server, f"user_id = '{alice.pk}'") == 0


def test_wrong_password_stores_nothing(server, alice):
    n = sessions(server)
    c = Client()
    assert c.post("/login", {"username": "alice", "password": "nope"}).status_code == 401
    assert "sessionid" not in c.cookies
    assert sessions(server) == n


def test_save_every_request_sends_the_cookie_each_time(server):
    with override_settings(SESSION_SAVE_EVERY_REQUEST=True):
        _save_every_request()


def _save_every_request():
    c = Client()
    c.post("/set", {"a": "1"})
    r = c.get("/get")
    assert "sessionid" in r.cookies, "sent again on a request that changed nothing"
    assert r.json() == {"a": "1"}


def test_parallel_changes_to_different_keys_are_both_kept(server):
    s = SessionStore()
    s["base"] = 1
    s.save()
    one, two = SessionStore(s.session_key), SessionStore(s.session_key)
    assert one["base"] == two["base"] == 1  # both loaded before either saves
    one["left"] = True
    two["right"] = True
    one.save()
    two.save()
    assert SessionStore(s.session_key).load() == {"base": 1, "left": True, "right": True}


def test_a_destroyed_session_is_never_brought_back(server):
    s = SessionStore()
    s["x"] = 1
    s.save()
    late = SessionStore(s.session_key)
    assert late["x"] == 1  # loaded, as a view reading it would
    SessionStore(s.session_key).delete()
    late["y"] = 2
    with pytest.raises(UpdateError):
        late.save()
    assert not SessionStore().exists(s.session_key)


def test_the_session_survives_a_restart_of_the_app(server):
    s = SessionStore()
    s["kept"] = "yes"
    s.save()
    for conn in connections.all():
        conn.close()
    assert SessionStore(s.session_key).load() == {"kept": "yes"}


def test_expiry_is_the_databases(server):
    s = SessionStore()
    s.set_expiry(600)
    s["a"] = 1
    s.save()
    loaded = SessionStore(s.session_key)
    loaded.load()
    assert 590 < loaded.get_expiry_age() <= 600
    SessionStore.clear_expired()  # session_prune, beside the worker
    assert SessionStore(s.session_key).exists(s.session_key)
