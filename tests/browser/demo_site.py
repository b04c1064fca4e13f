"""`make run` as a fixture: scripts/run.sh on a scratch database, seeded with the demo data.

The browser story of every role runs against what a newcomer gets from a fresh
clone: the same script, its setup commands, its Celery worker and Django's
server with the demo users, on SQLite (the embedded default) and on PostgreSQL
(a scratch database beside the test database). Only the port, the var/
directory and the development .env are the test's own.
"""

import os
import selectors
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "Stop with Ctrl-C."
START_TIMEOUT_SECONDS = 240
# `make run`'s script, Ctrl-C reaching it as in a terminal also when the suite runs in the
# background: a background job starts with SIGINT ignored, and so would its children.
RUN_COMMAND = ["env", "--default-signal=INT", "scripts/run.sh"]
# The environment of `make test` configures the test process itself; the demo
# site configures itself as `make run` does.
TEST_ONLY_VARIABLES = {
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
}


@dataclass
class DemoSite:
    database: str
    url: str
    output: str
    var_dir: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scratch_postgres_url() -> tuple[str, str]:
    """Return the URL of a scratch database on the test database's server, and its name."""
    db = settings.DATABASES["default"]
    name = f"{db['NAME']}_demo_site"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    url = f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{name}"
    return url, name


def postgres_admin(statement: str) -> None:
    db = settings.DATABASES["default"]
    with psycopg.connect(
        dbname="postgres",
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        host=db["HOST"],
        port=db["PORT"] or 5432,
        autocommit=True,
    ) as connection:
        connection.execute(statement)


def read_until(process: subprocess.Popen, marker: str, timeout: float) -> str:
    """Return the process's output up to and including the line holding `marker`."""
    output = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while marker.encode() not in output:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise TimeoutError(f"no {marker!r} within {timeout} s:\n{output.decode()}")
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"make run ended early:\n{output.decode()}")
            output += chunk
    return output.decode()


def start(database: str, var_dir: Path):
    """Start scripts/run.sh on `database`; return the site and a function that stops it."""
    env = {key: value for key, value in os.environ.items() if key not in TEST_ONLY_VARIABLES}
    env.update(COUNTERSIGN_VAR_DIR=str(var_dir), COUNTERSIGN_ENV_FILE=str(var_dir / ".env"))
    scratch = None
    if database == "postgresql":
        url, scratch = scratch_postgres_url()
        postgres_admin(f'DROP DATABASE IF EXISTS "{scratch}"')
        postgres_admin(f'CREATE DATABASE "{scratch}"')
        env["DATABASE_URL"] = url
    port = free_port()
    process = subprocess.Popen(
        [*RUN_COMMAND, str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def stop() -> None:
        # Ctrl-C, as make run says to stop it: the script, its worker and the server
        # share the session started for them. A SIGTERM would reach the worker's
        # pool processes too, and a pool process killed mid-queue can leave Celery
        # waiting on its lock at exit; Celery's pool ignores SIGINT.
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
            raise
        finally:
            process.stdout.close()
        if scratch:
            postgres_admin(f'DROP DATABASE IF EXISTS "{scratch}"')

    try:
        output = read_until(process, READY_LINE, START_TIMEOUT_SECONDS)
    except Exception:
        stop()
        raise
    return DemoSite(database, f"http://127.0.0.1:{port}", output, var_dir), stop
