"""pgsession as its users get it: an sdist and a wheel built without
network (`python -m build --no-isolation`, the wheel built from the
unpacked sdist), each installed by pip without network into a fresh venv
outside this repository, and the README's Flask app run from there over
real HTTP.  Needs Debian's python3-build and python3-venv; skipped through
pgbouncer (nothing of it differs there)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
README = PROJECT.parent.parent / "README.md"

pytestmark = [
    pytest.mark.skipif(bool(os.environ.get("PGBOUNCER")), reason="the same artifacts; run once, directly"),
    pytest.mark.skipif(subprocess.run([sys.executable, "-c", "import build"], capture_output=True).returncode != 0,
                       reason="python3-build is not installed"),
]

# Run by the venv's python: the README's Flask app on a real HTTP server,
# taken through login, /me and logout with its cookie; prints what it saw.
APP = r'''
import http.client, json, re, sys, threading
import pgsession
from werkzeug.serving import make_server

ns = {"__name__": "readme_flask"}
exec(compile(open(sys.argv[1]).read(), "README.md (readme-flask)", "exec"), ns)
srv = make_server("127.0.0.1", 0, ns["app"])
threading.Thread(target=srv.serve_forever, daemon=True).start()

def call(method, path, cookie=None):
    c = http.client.HTTPConnection("127.0.0.1", srv.server_port, timeout=30)
    c.request(method, path, headers={"Cookie": cookie} if cookie else {})
    r = c.getresponse()
    body = r.read().decode()
    return r.status, r.getheader("Set-Cookie") or "", body

seen = {"module": pgsession.__file__}
seen["anonymous"] = call("GET", "/me")[0]
status, set_cookie, _ = call("POST", "/login/alice")
seen["login"] = status
seen["set_cookie"] = set_cookie
cookie = set_cookie.split(";")[0]
seen["me"] = json.loads(call("GET", "/me", cookie)[2])
seen["logout"] = call("POST", "/logout", cookie)[0]
seen["after"] = call("GET", "/me", cookie)[0]
srv.shutdown()
print(json.dumps(seen))
'''


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # the sdist from the project as it stands; build makes the wheel from
    # the sdist unpacked elsewhere, so what the sdist lacks the wheel lacks
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(PROJECT)],
                   check=True, capture_output=True)
    return out


def test_the_artifacts_hold_what_they_need(dist):
    (sdist,) = dist.glob("pgsession-*.tar.gz")
    (wheel,) = dist.glob("pgsession-*-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert names == {
        "pgsession/__init__.py", "pgsession/_sql.py", "pgsession/aio.py", "pgsession/django.py",
        "pgsession/flask.py", "pgsession/py.typed",
        f"{info}/METADATA", f"{info}/LICENSE", f"{info}/WHEEL", f"{info}/RECORD",
    }
    with zipfile.ZipFile(wheel) as z:
        metadata = z.read(f"{info}/METADATA").decode()
        assert b"PostgreSQL License" in z.read(f"{info}/LICENSE")
    assert "License: PostgreSQL" in metadata
    with tarfile.open(sdist) as t:
        top = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {"LICENSE", "PKG-INFO", "pyproject.toml", "README.md", "_build/backend.py",
            "src/pgsession/__init__.py"} <= top


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_the_readme_flask_app_runs_from_a_venv(dist, kind, server, tmp_path):
    artifact = next(dist.glob("pgsession-*.tar.gz" if kind == "sdist" else "pgsession-*.whl"))
    venv = tmp_path / "venv"
    # the system's site-packages for psycopg and Flask (Debian's: no PyPI here)
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-index", "--no-cache-dir", str(artifact)],
                   check=True, capture_output=True)
    block = README.read_text().split("```python readme-flask\n", 1)[1].split("```", 1)[0]
    (tmp_path / "app.py").write_text(block)
    (tmp_path / "run.py").write_text(APP)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["DATABASE_URL"] = f"host={server.dir} port={server.port} user=app dbname=postgres"
    out = subprocess.run([str(venv / "bin" / "python"), "run.py", "app.py"], cwd=tmp_path, env=env,
                         check=True, capture_output=True, text=True, timeout=120)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["module"].startswith(str(venv)), "pgsession imported from the venv, not the source tree"
    assert seen["anonymous"] == 401
    assert seen["login"] == 200
    assert "HttpOnly" in seen["set_cookie"] and "SameSite=Lax" in seen["set_cookie"]
    assert seen["me"] == {"user": "alice"}
    assert seen["logout"] == 200
    assert seen["after"] == 401
