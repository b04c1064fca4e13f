"""Production settings pass the deployment checks, and laptop settings do not."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[2]


# Left out of every deploy check's environment: the test suite's own relaxations.
RELAXED = {
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "TOKEN_PEPPER",
    "WEBHOOK_SECRET",
    "SIGNING_KEY",
}
DEPLOY_CHECK_IDS = [f"countersign.E00{n}" for n in range(1, 7)]


def signing_key_pem() -> str:
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )


def production_env(**changes) -> dict[str, str]:
    """Return a production environment that passes, with `changes` applied (None unsets)."""
    env = {key: value for key, value in os.environ.items() if key not in RELAXED}
    env.update(
        DEBUG="0",
        SECRET_KEY="deploy-check-" + "k3y" * 20,
        TOKEN_PEPPER="deploy-check-pepper-" + "p3p" * 10,
        WEBHOOK_SECRET="deploy-check-webhook-" + "w3b" * 10,
        SIGNING_KEY=signing_key_pem(),
        ALLOWED_HOSTS="countersign.example.com",
        REDIS_URL="redis://127.0.0.1:6379/5",
    )
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_debug_off_and_secrets_set():
    result = check_deploy(production_env())
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("changes", "check_id", "names"),
    [
        ({"SECRET_KEY": "change-me-to-50-random-characters" + "x" * 20}, "E001", "SECRET_KEY"),
        ({"TOKEN_PEPPER": "change-me"}, "E001", "TOKEN_PEPPER"),
        ({"WEBHOOK_SECRET": "change-me"}, "E001", "WEBHOOK_SECRET"),
        (
            {"SECRET_KEY_FALLBACKS": "old-" + "k3y" * 20 + ",change-me-to-50-random-characters"},
            "E001",
            "SECRET_KEY_FALLBACKS",
        ),
        ({"TOKEN_PEPPER_FALLBACKS": "change-me"}, "E001", "TOKEN_PEPPER_FALLBACKS"),
        ({"WEBHOOK_SECRET_FALLBACKS": "change-me"}, "E001", "WEBHOOK_SECRET_FALLBACKS"),
        ({"TOKEN_PEPPER": None}, "E002", "TOKEN_PEPPER"),
        ({"WEBHOOK_SECRET": None}, "E002", "WEBHOOK_SECRET"),
        ({"ALLOWED_HOSTS": "*"}, "E003", "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "countersign.example.com,*"}, "E003", "ALLOWED_HOSTS"),
        ({"SIGNING_KEY": None}, "E004", "SIGNING_KEY"),
        ({"SIGNING_KEY": ""}, "E004", "SIGNING_KEY"),
        ({"REDIS_URL": None}, "E005", "REDIS_URL"),
        ({"BENCH_VIEWS": "1"}, "E006", "BENCH_VIEWS"),
    ],
)
def test_check_deploy_refuses_what_only_fits_a_laptop(changes, check_id, names):
    result = check_deploy(production_env(**changes))
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    found = [line for line in output.splitlines() if f"countersign.{check_id}" in line]
    assert len(found) == 1 and names in found[0], output
    others = set(DEPLOY_CHECK_IDS) - {f"countersign.{check_id}"}
    assert not [check for check in others if check in output], output


def env_example() -> dict[str, str]:
    """Return the settings .env.example sets, as docker compose reads them into `.env`."""
    shipped = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            shipped[key.strip()] = value.strip()
    return shipped


def test_check_deploy_refuses_env_example_as_shipped():
    """Copying .env.example without setting its secrets cannot pass for production."""
    shipped = env_example()
    env = production_env(**{key: None for key in shipped})
    env.update(shipped)
    result = check_deploy(env)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for name in ("SECRET_KEY", "TOKEN_PEPPER", "WEBHOOK_SECRET"):
        assert f"(countersign.E001) {name} is the placeholder" in output, output
    assert "countersign.E004" in output


def test_check_deploy_passes_for_compose_once_the_secrets_are_set():
    """docker-compose.yml's environment over .env.example, its change-me values replaced."""
    shipped = env_example()
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = production_env(**{key: None for key in shipped})
    env.update(shipped, **compose["x-app"]["environment"])
    env.update(
        SECRET_KEY="compose-" + "s3cr3t" * 10,
        TOKEN_PEPPER="compose-pepper-" + "p3p" * 10,
        WEBHOOK_SECRET="compose-webhook-" + "w3b" * 10,
        SIGNING_KEY=signing_key_pem(),
    )
    result = check_deploy(env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    # Nor from a checkout's development .env, which make run writes.
    env.update(DEBUG="0", COUNTERSIGN_ENV_FILE=str(tmp_path / "none.env"))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ.setdefault("
            "'DJANGO_SETTINGS_MODULE', 'config.settings'); django.setup()",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_wsgi_application_loads_every_view_then_freezes_its_heap_for_the_gc():
    """What a worker loads lives as long as the worker: the collector stops walking it."""
    code = (
        "import gc, sys; import config.wsgi;"
        "print(gc.get_freeze_count(), 'approvals.api.views' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    frozen, views_loaded = result.stdout.split()
    assert int(frozen) > 50_000
    assert views_loaded == "True"


@pytest.mark.parametrize(("concurrency", "workers"), [(None, 2 * (os.cpu_count() or 1)), ("3", 3)])
def test_gunicorn_started_here_runs_two_sync_workers_per_core(concurrency, workers):
    env = {key: value for key, value in os.environ.items() if key != "WEB_CONCURRENCY"}
    if concurrency:
        env["WEB_CONCURRENCY"] = concurrency
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--print-config",
            "config.wsgi:application",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    config = dict(
        (name.strip(), value.strip())
        for name, _, value in (line.partition("=") for line in result.stdout.splitlines())
    )
    assert (config["workers"], config["worker_class"]) == (str(workers), "sync")


def test_the_image_collects_the_static_manifest_production_serves_from(tmp_path):
    """The Dockerfile's collectstatic writes the manifest that DEBUG=0 pages look links up in."""
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    (line,) = [line for line in dockerfile if line.startswith("RUN ") and "collectstatic" in line]
    words = shlex.split(line.removeprefix("RUN "))
    assignments = dict(word.split("=", 1) for word in words[: words.index("python")])
    env = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY"}}
    env.update(assignments, COUNTERSIGN_VAR_DIR=str(tmp_path))
    command = [sys.executable, *words[words.index("python") + 1 :], "-v", "0"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "staticfiles" / "staticfiles.json").read_text())
    assert {"css/countersign.css", "css/errors.css"} <= set(manifest["paths"])
