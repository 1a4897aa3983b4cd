"""A throwaway PostgreSQL for the tests (its own data directory, Unix
socket only, UTF8, the library preloaded, the extension created, an app
role granted only the request functions), and pgbouncer in transaction
pooling mode in front of it when PGBOUNCER names its binary.  The server
binaries come from PG_BINDIR or the pg_config on PATH.  Run as a user
initdb accepts (not root)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

# the request functions of extension 1.4, and all of them
REQUEST_FUNCTIONS_1_4 = """
  session_create(text, jsonb, interval, interval),
  session_touch(text), session_get(text),
  session_regenerate(text, text),
  session_set(text, jsonb), session_merge(text, jsonb),
  session_merge(text, jsonb, text[]), session_set_idle_timeout(text, interval),
  session_destroy(text), session_destroy_user(text, text),
  session_list(text)"""
REQUEST_FUNCTIONS = REQUEST_FUNCTIONS_1_4 + """, session_destroy_handle(text, text),
  session_create(text, jsonb, interval, interval, integer, text), session_regenerate(text, text, integer, text)"""


class Server:
    def __init__(self) -> None:
        self.bin = Path(os.environ.get("PG_BINDIR") or subprocess.check_output(
            ["pg_config", "--bindir"], text=True).strip())
        self.dir = Path(tempfile.mkdtemp(prefix="session-py-"))
        self.data = self.dir / "data"
        self.port = 57000 + os.getpid() % 1000
        self.bouncer: subprocess.Popen[bytes] | None = None
        self.bouncer_port = self.port + 1000

    def run(self, cmd: str, *args: str) -> str:
        return subprocess.run([str(self.bin / cmd), *args], check=True, capture_output=True, text=True).stdout

    def start(self) -> "Server":
        self.run("initdb", "-D", str(self.data), "-E", "UTF8", "--locale=C", "-A", "trust", "-U", "postgres")
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(f"listen_addresses = ''\nunix_socket_directories = '{self.dir}'\nport = {self.port}\n"
                    "shared_preload_libraries = 'session'\nsession.prune_interval = 0\n")
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "start")
        self.psql(f"CREATE EXTENSION session; CREATE ROLE app LOGIN;"
                  f" GRANT EXECUTE ON FUNCTION {REQUEST_FUNCTIONS} TO app;"
                  " CREATE ROLE django LOGIN")
        self.psql("CREATE DATABASE django OWNER django")
        # clearsessions (clear_expired) needs session_prune too
        self.psql(f"CREATE EXTENSION session; GRANT EXECUTE ON FUNCTION {REQUEST_FUNCTIONS},"
                  " session_prune() TO django",
                  db="django")
        return self

    def psql(self, sql: str, db: str = "postgres") -> str:
        return self.run("psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", str(self.dir),
                        "-p", str(self.port), "-U", "postgres", "-d", db, "-c", sql).strip()

    def start_bouncer(self, binary: str) -> None:
        (self.dir / "users.txt").write_text('"app" ""\n"django" ""\n"postgres" ""\n')
        ini = self.dir / "pgbouncer.ini"
        ini.write_text(f"""[databases]
* = host={self.dir} port={self.port}
[pgbouncer]
listen_addr =
unix_socket_dir = {self.dir}
listen_port = {self.bouncer_port}
auth_type = trust
auth_file = {self.dir / 'users.txt'}
pool_mode = transaction
max_client_conn = 200
default_pool_size = 10
server_login_retry = 1
logfile = {self.dir / 'pgbouncer.log'}
pidfile = {self.dir / 'pgbouncer.pid'}
""")
        self.bouncer = subprocess.Popen([binary, str(ini)])
        sock = self.dir / f".s.PGSQL.{self.bouncer_port}"
        for _ in range(400):
            if sock.exists():
                return
            time.sleep(0.025)
        raise RuntimeError("pgbouncer did not start")

    @property
    def client_port(self) -> int:
        return self.bouncer_port if self.bouncer else self.port

    def conninfo(self, user: str = "app", db: str = "postgres") -> str:
        return f"host={self.dir} port={self.client_port} user={user} dbname={db}"

    def stop(self) -> None:
        if self.bouncer:
            # SIGKILL: pgbouncer 1.23 and later make SIGTERM a shutdown that waits
            # for every client to disconnect
            self.bouncer.kill()
            self.bouncer.wait()
        subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    s = Server().start()
    if os.environ.get("PGBOUNCER"):
        s.start_bouncer(os.environ["PGBOUNCER"])
    yield s
    s.stop()


@pytest.fixture(scope="session")
def _django(server: Server) -> None:
    """Django's settings for tests/test_django.py, configured once."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="tests only",
        ALLOWED_HOSTS=["testserver"],
        ROOT_URLCONF="django_app",
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware"],
        SESSION_ENGINE="pgsession.django",
        SESSION_COOKIE_AGE=3600,
        DATABASES={"default": {"ENGINE": "django.db.backends.postgresql", "NAME": "django", "USER": "django",
                               "HOST": str(server.dir), "PORT": str(server.client_port),
                               # pgbouncer in transaction mode: no server-side cursors
                               "DISABLE_SERVER_SIDE_CURSORS": True}},
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        USE_TZ=True,
    )
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
