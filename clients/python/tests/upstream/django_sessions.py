"""Django's own session tests against pgsession.django.

python3 django_sessions.py DJANGO_SOURCE: DJANGO_SOURCE is Django's source
tree (the upstream tarball of Debian's python-django, at the installed
version, unpacked by scripts/debian-source), whose tests/sessions_tests is
imported as it is, unmodified.  Its SessionTestsMixin runs with our
SessionStore as the backend, with USE_TZ off (Django 3.2's default) and on,
and its SessionMiddlewareTests with SESSION_ENGINE = "pgsession.django".
The tests that cannot apply to a store kept by the extension are skipped by
name, each with its reason (SKIPS).  The database is the one PGSESSION_*
name (made by tests/test_upstream.py): it has the extension, and its role
the request functions and session_prune.  Exits non-zero if any test fails.
"""
from __future__ import annotations

import os
import sys
import unittest

source = sys.argv[1]
sys.path.insert(0, os.path.join(source, "tests"))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    DEBUG=False,
    SECRET_KEY="django's own session tests",
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions",
                    "sessions_tests"],
    SESSION_ENGINE="pgsession.django",
    DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": os.environ["PGSESSION_DB"],
                           "USER": os.environ["PGSESSION_USER"], "HOST": os.environ["PGSESSION_HOST"],
                           "PORT": os.environ["PGSESSION_PORT"], "DISABLE_SERVER_SIDE_CURSORS": True,
                           # the database the test run uses is made beforehand, with the extension
                           "TEST": {"NAME": os.environ["PGSESSION_DB"]}}},
    USE_TZ=False,
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
)
django.setup()

from django.test import TestCase, override_settings  # noqa: E402
from django.test.runner import DiscoverRunner  # noqa: E402
from sessions_tests import tests as upstream  # noqa: E402

from pgsession.django import SessionStore  # noqa: E402

# Django's tests that cannot apply here, and why.
SKIPS: dict[str, str] = {}
MIDDLEWARE_SKIPS = {
    "test_empty_session_saved":
        "reads the session back through Django's own Session model (the django_session table), which this "
        "store does not use; tests/test_django.py::test_a_session_emptied_of_data_is_still_saved checks the "
        "same against session_internal.sessions",
}


class PgSessionTests(upstream.SessionTestsMixin, TestCase):
    """SessionTestsMixin, USE_TZ off (Django 3.2's default)."""

    backend = SessionStore


@override_settings(USE_TZ=True)
class PgSessionWithTimeZoneTests(PgSessionTests):
    """SessionTestsMixin, USE_TZ on."""


class PgSessionMiddlewareTests(upstream.SessionMiddlewareTests):
    """SessionMiddleware with SESSION_ENGINE = "pgsession.django"."""


def skip(cls: type, skips: dict[str, str]) -> None:
    for name, reason in skips.items():
        if hasattr(cls, name):
            setattr(cls, name, unittest.skip(reason)(getattr(cls, name)))


skip(PgSessionTests, SKIPS)
skip(PgSessionMiddlewareTests, MIDDLEWARE_SKIPS)

if __name__ == "__main__":
    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    for cls in (PgSessionTests, PgSessionWithTimeZoneTests, PgSessionMiddlewareTests):
        suite.addTests(loader.loadTestsFromTestCase(cls))
    runner = DiscoverRunner(verbosity=2, keepdb=True, interactive=False)
    old = runner.setup_databases()
    try:
        result = unittest.TextTestRunner(verbosity=2).run(suite)
    finally:
        runner.teardown_databases(old)
    print(f"{result.testsRun - len(result.failures) - len(result.errors) - len(result.skipped)} passed, "
          f"{len(result.failures) + len(result.errors)} failed, {len(result.skipped)} skipped")
    sys.exit(0 if result.wasSuccessful() else 1)
