"""A pytest plugin (-p flask_sessions) that runs Flask's own tests with the
session of every Flask app kept by pgsession.flask.

Flask's tests (tests/ of Flask's source: the upstream tarball of Debian's
flask, at the installed version, unpacked by scripts/debian-source) run as
they are, unmodified; tests/test_upstream.py selects their session and
flashing tests (-k "session or flash").  Flask.session_interface, the class
attribute every app takes its interface from, is set to ours on the
database PGSESSION_CONNINFO names, so each app the tests make uses it
unless the test installs an interface of its own.  The tests that cannot
apply to a store kept by the extension are skipped by name, each with its
reason (SKIPS).

The interface is given an absolute timeout of 60 days: Flask's tests
expect a permanent session's cookie to expire after
PERMANENT_SESSION_LIFETIME (31 days), longer than the database's default
absolute timeout (30 days), which would otherwise end it first.
"""
from __future__ import annotations

import os
from datetime import timedelta

import flask
import psycopg
import pytest

from pgsession.flask import SessionInterface

SKIPS = {
    "test_missing_session":
        "expects no session without app.secret_key; this store needs no secret in the app (the token is "
        "signed in the database), so a session is always available",
    "test_session_transactions_no_null_sessions":
        "expects session_transaction to fail without app.secret_key, for the same reason",
}

_conn = None


def pytest_configure(config: pytest.Config) -> None:
    global _conn
    _conn = psycopg.connect(os.environ["PGSESSION_CONNINFO"], autocommit=True, prepare_threshold=None)
    flask.Flask.session_interface = SessionInterface(_conn, absolute_timeout=timedelta(days=60))


def pytest_unconfigure(config: pytest.Config) -> None:
    if _conn is not None:
        _conn.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        reason = SKIPS.get(getattr(item, "originalname", item.name))
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))
