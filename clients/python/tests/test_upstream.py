"""Django's and Flask's own session tests, run unmodified against our
backends (tests/upstream/: the runner for Django's, the pytest plugin for
Flask's; each lists the tests it skips and why).  Their source comes from
Debian's source packages of the installed versions, which scripts/test
unpacks into PGSESSION_UPSTREAM/django and .../flask at test time; where a
mirror lacks one, scripts/test leaves PGSESSION_UPSTREAM/NAME.missing
saying why, and the test is skipped with that reason.  Each suite runs in a
process of its own (Django's settings are per process), against this run's
server (through pgbouncer when PGBOUNCER is set)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
# the files of Flask's tests that have session or flashing tests
FLASK_FILES = ["test_basic.py", "test_testing.py", "test_reqctx.py", "test_signals.py", "test_helpers.py",
               "test_session_interface.py", "test_templating.py", "test_config.py"]


def source(name: str) -> Path:
    root = os.environ.get("PGSESSION_UPSTREAM")
    if not root:
        pytest.skip(f"{name}'s own tests: PGSESSION_UPSTREAM is not set (scripts/test fetches them)")
    path = Path(root) / name
    missing = Path(root) / f"{name}.missing"
    if missing.exists():
        pytest.skip(f"{name}'s own tests: {missing.read_text().strip()}")
    if not path.is_dir():
        pytest.fail(f"{name}'s own tests are not in {path}")
    return path


def run(cmd: list[str], env: dict[str, str], cwd: Path) -> str:
    p = subprocess.run(cmd, env={**os.environ, **env, "PYTHONPATH": f"{SRC}:{HERE / 'upstream'}"}, cwd=cwd,
                       capture_output=True, text=True, timeout=600)
    out = p.stdout + p.stderr
    print(out[-6000:])
    assert p.returncode == 0, out[-6000:]
    return out


def test_djangos_own_session_tests(server):
    django = source("django")
    server.psql("CREATE DATABASE django_upstream OWNER django")
    server.psql("CREATE EXTENSION session; GRANT EXECUTE ON FUNCTION"
                " session_create(text, jsonb, interval, interval), session_touch(text), session_get(text),"
                " session_regenerate(text, text), session_set(text, jsonb), session_merge(text, jsonb),"
                " session_merge(text, jsonb, text[]), session_set_idle_timeout(text, interval),"
                " session_destroy(text), session_destroy_user(text, text), session_list(text),"
                " session_prune() TO django", db="django_upstream")
    out = run([sys.executable, str(HERE / "upstream" / "django_sessions.py"), str(django)],
              {"PGSESSION_DB": "django_upstream", "PGSESSION_USER": "django", "PGSESSION_HOST": str(server.dir),
               "PGSESSION_PORT": str(server.client_port)}, HERE)
    passed, failed = map(int, re.search(r"^(\d+) passed, (\d+) failed", out, re.M).groups())
    assert failed == 0 and passed >= 80


def test_flasks_own_session_tests(server):
    flask = source("flask")
    out = run([sys.executable, "-m", "pytest", "-p", "flask_sessions", "-p", "no:cacheprovider", "-q",
               "-o", "filterwarnings=ignore::DeprecationWarning", "-k", "session or flash",
               *[f"tests/{f}" for f in FLASK_FILES if (flask / "tests" / f).exists()]],
              {"PGSESSION_CONNINFO": server.conninfo()}, flask)
    assert re.search(r"\b(\d+) passed", out) and int(re.search(r"\b(\d+) passed", out).group(1)) >= 20
