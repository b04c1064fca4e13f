"""A real Celery worker on Redis for the job tests, and a webhook receiver on 127.0.0.1.

The worker is a separate `celery -A config worker` process pointed at the
test database and this suite's Redis database; it is stopped when the test
ends. Tests use `transactional_db` so the worker sees what they commit.
"""

import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")
WEBHOOK_SECRET = "webhook-secret-for-the-job-tests"


def wait_for(predicate, timeout=30.0, interval=0.2, message="condition"):
    """Poll until predicate() is truthy; return its value or fail the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message}")


def _database_url() -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


class Worker:
    def __init__(self, process, log: Path):
        self.process = process
        self.log = log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def finished(self, task: str) -> int:
        """Return how many runs of the task the worker logged as over (succeeded or raised)."""
        pattern = rf"Task {re.escape(task)}\[[^\]]+\] (succeeded|raised|failed)"
        return len(re.findall(pattern, self.output()))

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """Return a function starting a worker (broker and settings by env); stop them all after."""
    started: list[Worker] = []

    def start(broker_url: str | None = None, **env_overrides) -> Worker:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=_database_url(),
            CONN_MAX_AGE="0",
            CELERY_BROKER_URL=broker_url or settings.CELERY_BROKER_URL,
            WEBHOOK_SECRET=WEBHOOK_SECRET,
            EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
        )
        env.update({key: str(value) for key, value in env_overrides.items()})
        log = tmp_path / f"worker-{len(started)}.log"
        process = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "config",
                "worker",
                "--pool=threads",
                "--concurrency=2",
                "--without-gossip",
                "--without-mingle",
                "--purge",
                "--loglevel=INFO",
                "-n",
                f"jobs-test-{os.getpid()}-{len(started)}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        worker = Worker(process, log)
        started.append(worker)
        wait_for(
            lambda: "ready." in worker.output() or process.poll() is not None,
            timeout=60,
            message="the Celery worker to start",
        )
        assert process.poll() is None, worker.output()
        return worker

    yield start
    for worker in started:
        worker.stop()
        # Shown by pytest only when the test failed.
        print(worker.output()[-6000:])


class Receiver:
    """An HTTP server on 127.0.0.1 recording webhook POSTs; answers from a list of statuses."""

    def __init__(self, statuses=(200,)):
        self.requests: list[dict] = []
        self.statuses = list(statuses)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                index = min(len(receiver.requests), len(receiver.statuses)) - 1
                self.send_response(receiver.statuses[index])
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    """Return a function starting a webhook receiver; stop them all after."""
    started: list[Receiver] = []

    def start(statuses=(200,)) -> Receiver:
        receiver = Receiver(statuses)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def expected_signature(body: bytes) -> str:
    return "sha256=" + hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()


def webhook_json(request: dict) -> dict:
    return json.loads(request["body"])
