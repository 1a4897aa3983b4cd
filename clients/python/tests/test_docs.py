"""The README's Flask app (its ```python readme-flask block), run as it
stands there: login regenerates and stores the user, /me answers for it,
logout ends it.  Against the server directly (the snippet's pool keeps
psycopg's prepared statements, which pgbouncer before 1.21 does not)."""
from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[3] / "README.md"


def block(tag: str) -> str:
    m = re.search(r"^```python " + re.escape(tag) + r"\n(.*?)^```$", README.read_text(), re.M | re.S)
    assert m, f"README.md has a ```python {tag} block"
    return m.group(1)


def test_readme_flask_app(server, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"host={server.dir} port={server.port} user=app dbname=postgres")
    ns: dict = {"__name__": "readme_flask"}
    exec(compile(block("readme-flask"), "README.md (readme-flask)", "exec"), ns)
    client = ns["app"].test_client()

    assert client.get("/me").status_code == 401
    login = client.post("/login/alice")
    assert login.status_code == 200
    cookie = login.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/me").get_json() == {"user": "alice"}
    token = re.search(r"session=([^;]+)", cookie).group(1)
    assert server.psql(f"SELECT user_id FROM session_get('{token}')") == "alice"
    assert client.post("/logout").status_code == 200
    assert client.get("/me").status_code == 401
    assert server.psql(f"SELECT count(*) FROM session_get('{token}')") == "0"
