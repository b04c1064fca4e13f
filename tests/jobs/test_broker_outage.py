"""Stopping Redis while the drift job runs loses no finding and duplicates none.

The worker gets a private redis-server on port 6390 (never the shared one),
which the test kills and starts again.
"""

import os
import signal
import subprocess
import time

import pytest
from kombu import Connection

from agents.observations import observations_record
from approvals.models import DriftFinding
from audit.actors import Actor
from config.celery import app
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SYSTEM = Actor.system("tests")
PORT = 6390
DRIFT = "approvals.tasks.drift_evaluate"


class PrivateRedis:
    def __init__(self, directory):
        self.pidfile = directory / "redis-6390.pid"
        self.url = f"redis://127.0.0.1:{PORT}/6"

    def start(self):
        subprocess.run(
            [
                "redis-server",
                "--port",
                str(PORT),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pidfile),
            ],
            check=True,
        )
        wait_for(self.ping, timeout=10, message="redis-server on 6390")

    def ping(self) -> bool:
        result = subprocess.run(
            ["redis-cli", "-p", str(PORT), "ping"], capture_output=True, text=True
        )
        return result.stdout.strip() == "PONG"

    def kill(self):
        """Kill the server abruptly, as a crash would: queued messages are lost too."""
        pid = int(self.pidfile.read_text())
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not self.ping(), timeout=10, message="redis-server to stop")
        self.pidfile.unlink(missing_ok=True)


@pytest.fixture
def private_redis(tmp_path):
    redis = PrivateRedis(tmp_path)
    if redis.ping():
        pytest.fail(f"Something already listens on port {PORT}.")
    redis.start()
    yield redis
    if redis.pidfile.exists():
        redis.kill()


def _send(url: str) -> None:
    with Connection(url) as connection:
        app.send_task(DRIFT, connection=connection, retry=False)


def test_stopping_redis_mid_run_loses_no_finding(workflow, agent, celery_worker, private_redis):
    workflow.approve(agent)
    worker = celery_worker(broker_url=private_redis.url, SUSPEND_ON_CRITICAL_DRIFT="0")
    first = [
        {"kind": "tool", "identifier": "shell", "access": "execute"},
        {"kind": "dataset", "identifier": "payroll", "access": "read"},
    ]
    observations_record(actor=SYSTEM, agent=agent, items=first)
    _send(private_redis.url)
    wait_for(lambda: DriftFinding.objects.filter(agent=agent).count() == 2, message="findings")

    second = [
        {"kind": "endpoint", "identifier": "https://x.example.com", "access": "write"},
        {"kind": "action", "identifier": "user.impersonate", "access": "execute"},
    ]
    observations_record(actor=SYSTEM, agent=agent, items=first + second)
    _send(private_redis.url)
    time.sleep(0.05)
    private_redis.kill()
    with pytest.raises(Exception):  # noqa: B017 - whatever kombu raises for a dead broker
        _send(private_redis.url)
    time.sleep(2)
    private_redis.start()
    if worker.process.poll() is not None:
        # kombu ends a worker that held unacknowledged messages when the broker
        # vanished; the process supervisor (docker-compose: restart) starts it again.
        worker = celery_worker(broker_url=private_redis.url, SUSPEND_ON_CRITICAL_DRIFT="0")

    # The next scheduled run (here sent by hand once the broker answers) catches up.
    before = worker.finished(DRIFT)
    wait_for(lambda: _try_send(private_redis.url), timeout=30, message="the broker to answer")
    wait_for(lambda: worker.finished(DRIFT) > before, timeout=90, message="the catch-up run")
    _send(private_redis.url)
    wait_for(lambda: worker.finished(DRIFT) > before + 1, timeout=60, message="one more run")

    findings = DriftFinding.objects.filter(agent=agent)
    keys = sorted((f.kind, f.identifier) for f in findings)
    assert keys == sorted((u["kind"], u["identifier"]) for u in first + second)
    counts = {f.identifier: f.count for f in findings}
    assert counts == {"shell": 2, "payroll": 2, "https://x.example.com": 1, "user.impersonate": 1}


def _try_send(url: str) -> bool:
    try:
        _send(url)
    except Exception:
        return False
    return True
