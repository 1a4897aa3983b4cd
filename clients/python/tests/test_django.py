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


def idle_seconds(server, token_user):
    """The idle timeout of the user's newest session."""
    return float(server.psql("SELECT extract(epoch FROM idle_timeout) FROM session_internal.sessions"
                             f" WHERE user_id = '{token_user}' ORDER BY created_at DESC LIMIT 1", db="django"))


@pytest.mark.parametrize("use_tz", [False, True])
def test_login_and_changes_with_and_without_use_tz(server, alice, use_tz):
    """USE_TZ = False (Django 3.2's default) gives naive times from the
    database: the expiry is computed in Django's own terms either way."""
    with override_settings(USE_TZ=use_tz):
        c = Client()
        c.post("/set", {"theme": "dark"})
        assert c.post("/login", {"username": "alice", "password": "secret"}).status_code == 200
        r = c.post("/set", {"theme": "light"})
        assert r.status_code == 200
        assert 3590 < int(r.cookies["sessionid"]["max-age"]) <= 3600
        assert c.get("/get").json() == {"theme": "light"}
        loaded = SessionStore(c.cookies["sessionid"].value)
        loaded.load()
        assert (loaded.get_expiry_date().tzinfo is not None) == use_tz
        assert 3590 < loaded.get_expiry_age() <= 3600
        c.post("/logout")


def test_set_expiry_after_login_changes_the_session_and_its_cookie(server, alice):
    """A "remember me" checkbox after login: set_expiry(60) on a stored
    session is that session's idle timeout in the database, and the cookie's."""
    c = Client()
    c.post("/login", {"username": "alice", "password": "secret"})
    assert idle_seconds(server, alice.pk) == 3600
    r = c.post("/remember", {"seconds": "60"})
    assert 50 < int(r.cookies["sessionid"]["max-age"]) <= 60
    assert idle_seconds(server, alice.pk) == 60
    left = float(server.psql("SELECT extract(epoch FROM expires_at - now()) FROM session_internal.sessions"
                             f" WHERE user_id = '{alice.pk}' ORDER BY created_at DESC LIMIT 1", db="django"))
    assert 50 < left <= 60
    r = c.get("/get")  # later requests keep the chosen lifetime
    assert idle_seconds(server, alice.pk) == 60
    c.post("/logout")


def test_an_expiry_already_past_gives_an_expired_session(server):
    """set_expiry(-10) then save(), as Django's clearsessions test does: no
    error, and nothing that loads."""
    new = SessionStore()
    new["a"] = 1
    new.set_expiry(-10)
    new.save()
    assert new.session_key is None
    stored = SessionStore()
    stored["a"] = 1
    stored.save()
    key = stored.session_key
    stored.set_expiry(-10)
    stored.save()
    assert SessionStore(key).load() == {}
    assert not SessionStore().exists(key)


def test_saving_a_session_destroyed_elsewhere_raises_even_without_changes(server):
    s = SessionStore()
    s["x"] = 1
    s.save()
    late = SessionStore(s.session_key)
    assert late["x"] == 1
    SessionStore(s.session_key).delete()
    late.modified = True  # nothing changed, but Django saves it (SESSION_SAVE_EVERY_REQUEST)
    with pytest.raises(UpdateError):
        late.save()


def test_a_none_value_is_kept_and_removal_is_apart(server):
    c = Client()
    c.post("/set", {"a": "1"})
    c.post("/set-none", {"key": "b"})
    assert c.get("/get").json() == {"a": "1", "b": None}
    s = SessionStore(c.cookies["sessionid"].value)
    assert s["b"] is None
    del s["a"]
    s.save()
    assert SessionStore(c.cookies["sessionid"].value).load() == {"b": None}


def test_a_session_emptied_of_data_is_still_saved(server):
    """What Django's own test_empty_session_saved checks, read from our table
    rather than Django's Session model."""
    s = SessionStore()
    s["foo"] = "bar"
    s.save()
    del s["foo"]
    s.save()
    assert SessionStore(s.session_key).load() == {}
    assert SessionStore().exists(s.session_key)


def test_devices_lists_each_login_and_signs_one_out_by_its_handle(server, alice, _imports):
    phone, laptop = Client(), Client()
    for c in (phone, laptop):
        assert c.post("/login", {"username": "alice", "password": "secret"}).status_code == 200
    bob, _ = User.objects.get_or_create(username="bob-devices")
    bob.set_password("secret")
    bob.save()
    other = Client()
    assert other.post("/login", {"username": "bob-devices", "password": "secret"}).status_code == 200
    devices = laptop.get("/devices").json()["devices"]
    assert len(devices) == 2
    tokens = (phone.cookies["sessionid"].value, laptop.cookies["sessionid"].value)
    for d in devices:
        assert len(d["handle"]) == 43 and not any(d["handle"] in t for t in tokens)
        assert d["last_used_at"] >= d["created_at"]
    handles = [d["handle"] for d in devices]
    # bob cannot sign alice's phone out; a handle of alice's is nothing to him
    assert all(other.post(f"/devices/{h}/sign-out").json() == {"ended": False} for h in handles)
    assert phone.get("/me").json() == {"user": "alice"}
    # the laptop signs the phone out (the older session), and stays signed in
    assert laptop.post(f"/devices/{handles[0]}/sign-out").json() == {"ended": True}
    assert phone.get("/me").status_code == 401
    assert laptop.get("/me").json() == {"user": "alice"}
    assert [d["handle"] for d in laptop.get("/devices").json()["devices"]] == handles[1:]
    laptop.post("/logout")
    other.post("/logout")


def test_pgsession_max_sessions_per_user_evicts_the_least_recently_used(server, alice, _imports):
    clients = [Client() for _ in range(3)]
    with override_settings(PGSESSION_MAX_SESSIONS_PER_USER=2):
        for c in clients:
            assert c.post("/login", {"username": "alice", "password": "secret"}).status_code == 200
    assert sessions(server, f"user_id = '{alice.pk}'") == 2
    assert clients[0].get("/me").status_code == 401
    assert all(c.get("/me").json() == {"user": "alice"} for c in clients[1:])
    with override_settings(PGSESSION_MAX_SESSIONS_PER_USER=2, PGSESSION_ON_SESSION_LIMIT="refuse"):
        with pytest.raises(Exception) as refused:
            Client(raise_request_exception=True).post("/login", {"username": "alice", "password": "secret"})
    assert "most live sessions allowed" in str(refused.value)
    assert sessions(server, f"user_id = '{alice.pk}'") == 2
    for c in clients[1:]:
        c.post("/logout")
