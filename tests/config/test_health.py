"""The health endpoint answers on the container's own address under production settings."""

import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.jobs.conftest import _database_url, wait_for

ROOT = Path(__file__).resolve().parents[2]
PUBLIC_HOST = "countersign.example.com"


@pytest.fixture
def production(settings):
    """Serve with production's host check and HTTPS redirect."""
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = [PUBLIC_HOST]
    settings.SECURE_SSL_REDIRECT = True


@pytest.mark.django_db
def test_health_answers_the_internal_address_over_plain_http(client, production):
    response = client.get("/healthz", HTTP_HOST="127.0.0.1:8000", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/login/", "/healthz/", "/healthz/x", "/api/v1/schema/"])
def test_every_other_path_keeps_the_host_check(client, production, path):
    assert client.get(path, HTTP_HOST="127.0.0.1:8000").status_code == 400


@pytest.mark.django_db
def test_every_other_path_keeps_the_https_redirect(client, production):
    response = client.get("/login/", HTTP_HOST=PUBLIC_HOST)
    assert response.status_code == 301
    assert response["Location"] == f"https://{PUBLIC_HOST}/login/"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def gunicorn_production(django_db_setup, tmp_path):
    """Start gunicorn with production settings on the test database; return its port."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"}
    }
    env.update(
        DEBUG="0",
        ALLOWED_HOSTS=PUBLIC_HOST,
        DATABASE_URL=_database_url(),
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
    )
    log = tmp_path / "gunicorn.log"
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "config.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(
            lambda: listening(port) or process.poll() is not None,
            timeout=60,
            message="gunicorn to listen",
        )
        assert process.poll() is None, log.read_text()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_compose_health_check_passes_against_gunicorn(gunicorn_production):
    port = gunicorn_production
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["web"]["healthcheck"]["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    code = command[3].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    # The same server refuses the internal address on any other path.
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=30)  # noqa: S310
    assert refused.value.code == 400
