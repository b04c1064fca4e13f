"""A checkout's .env makes manage.py work by hand; a configured environment ignores it."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PRINT_SETTINGS = "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"


def manage(env_file: Path, **variables) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key not in {"DEBUG", "SECRET_KEY"}}
    env.update(COUNTERSIGN_ENV_FILE=str(env_file), **variables)
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_development_env_file_is_read_when_the_environment_sets_no_secret(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=1\nSECRET_KEY=generated-for-this-checkout\n")
    result = manage(env_file)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "generated-for-this-checkout"]


def test_without_it_a_secret_is_required(tmp_path):
    result = manage(tmp_path / "missing.env")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_an_environment_with_its_own_secret_ignores_the_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DEBUG=1\nSECRET_KEY=generated-for-this-checkout\n")
    result = manage(env_file, SECRET_KEY="set-by-the-deployment-" + "x" * 30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "set-by-the-deployment-" + "x" * 30]


def test_compose_reads_a_file_of_its_own_kept_out_of_git_and_the_image():
    """Copying .env.example for compose leaves make run's .env (manage.py by hand) alone,
    and the production secrets are neither committed nor copied into the image."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env_file = compose["x-app"]["env_file"]
    assert env_file != ".env"
    for ignore in (".gitignore", ".dockerignore"):
        assert env_file in (ROOT / ignore).read_text().splitlines(), ignore
