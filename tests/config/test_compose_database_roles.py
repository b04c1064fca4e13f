"""docker-compose.yml: web, worker and beat connect as a role that cannot change the audit trail.

Docker does not run here: these tests read the compose file, and run its
PostgreSQL init script against the test server with psql.
"""

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
POSTGRES = SERVICES["postgres"]["environment"]
OWNER = POSTGRES["POSTGRES_USER"]
RUNTIME = POSTGRES["APP_DB_USER"]
SERVING = ("web", "worker", "beat")
INIT_DIR = "/docker-entrypoint-initdb.d"


def database_user(service: str) -> str:
    return urlsplit(SERVICES[service]["environment"]["DATABASE_URL"]).username


def command(service: str) -> str:
    return " ".join(SERVICES[service]["command"])


def test_web_worker_and_beat_connect_as_the_runtime_role_not_the_owner():
    assert RUNTIME != OWNER
    assert {database_user(service) for service in SERVING} == {RUNTIME}
    assert database_user("migrate") == OWNER


def test_migrate_grants_the_runtime_role_after_migrating():
    steps = command("migrate").split("&&")
    migrate = next(i for i, step in enumerate(steps) if "manage.py migrate" in step)
    grant = steps.index(f" python manage.py grant_runtime_role {RUNTIME} ")
    assert migrate < grant


@pytest.mark.parametrize("service", SERVING)
def test_each_serving_process_starts_only_after_every_deploy_check(service):
    """The database role's check and the settings' (secrets, hosts, signing key, shared
    cache, Django's security checks) at the default fail level: errors stop the process,
    warnings print."""
    shell, flag, script = SERVICES[service]["command"]
    assert (shell, flag) == ("sh", "-c")
    check, _, start = script.partition("&&")
    assert check.split() == ["python", "manage.py", "check", "--deploy", "--database", "default"]
    assert start.strip().startswith("exec ")


def test_the_owners_password_reaches_only_postgres_and_migrate():
    """The app containers read .env and their environment: the owner's password is in neither."""
    holders = {name for name, service in SERVICES.items() if service.get("secrets")}
    assert holders == {"postgres", "migrate"}
    assert POSTGRES["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_owner_password"
    assert "POSTGRES_PASSWORD" not in POSTGRES
    for service in SERVING:
        assert "POSTGRES_PASSWORD" not in SERVICES[service]["environment"]


def init_scripts() -> list[Path]:
    mounts = [volume.split(":") for volume in SERVICES["postgres"]["volumes"]]
    (source,) = [source for source, target, *_ in mounts if target == INIT_DIR]
    return sorted((ROOT / source).iterdir())


def libpq_env() -> dict[str, str]:
    """Return the environment that points psql at the test database as its superuser."""
    settings = connection.settings_dict
    return {
        **os.environ,
        "PGHOST": settings["HOST"] or "",
        "PGPORT": str(settings["PORT"] or ""),
        "PGUSER": settings["USER"],
        "PGPASSWORD": settings["PASSWORD"] or "",
        "PGDATABASE": settings["NAME"],
    }


def psql(statement: str) -> str:
    result = subprocess.run(
        ["psql", "--no-psqlrc", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-c", statement],
        env=libpq_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def run_init_script(role: str, password: str) -> subprocess.CompletedProcess:
    """Run the init script as the postgres image does, as the server's superuser."""
    (script,) = init_scripts()
    env = libpq_env()
    env.update(
        POSTGRES_USER=env["PGUSER"],
        POSTGRES_DB=env["PGDATABASE"],
        APP_DB_USER=role,
        APP_DB_PASSWORD=password,
    )
    return subprocess.run([script], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def init_role(db):
    """The role the init script creates, dropped afterwards: the script commits it.

    psql reads and drops it; the test's own transaction never touches it, so
    it holds no lock on it.
    """
    if not shutil.which("psql"):
        pytest.skip("psql, which the postgres image's init scripts use, is not installed")
    role = f"cs_init_{os.getpid()}"
    yield role
    psql(f'DROP ROLE IF EXISTS "{role}"')


# Whether it may log in, is a superuser, creates databases, roles, replicates, bypasses
# row security; how many relations it owns; whether it has a password.
ROLE_ATTRIBUTES = (
    "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
    "(SELECT count(*) FROM pg_class WHERE relowner = r.oid), rolpassword IS NOT NULL "
    "FROM pg_authid r "
)


def test_the_init_script_creates_a_login_role_that_is_no_superuser_and_owns_nothing(init_role):
    """Run twice, as by hand on an existing database, it only sets the password again."""
    for password in ("first-password", 'it\'s; a "second" one'):
        result = run_init_script(init_role, password)
        assert result.returncode == 0, result.stderr
    attributes = psql(
        ROLE_ATTRIBUTES + f"WHERE rolname = '{init_role}'"  # noqa: S608 - the test's own name
    )
    assert attributes == "t|f|f|f|f|f|0|t"


def test_the_init_script_refuses_to_run_without_a_password(init_role):
    result = run_init_script(init_role, "")
    assert result.returncode != 0
    assert "APP_DB_PASSWORD" in result.stderr
    found = psql(f"SELECT count(*) FROM pg_roles WHERE rolname = '{init_role}'")  # noqa: S608
    assert found == "0"
