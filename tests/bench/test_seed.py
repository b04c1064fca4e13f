"""The benchmark's seed still fills the schema as the migrations leave it.

It writes with COPY, column by column, so a new non-null column breaks it
where no other test looks: this seeds a scratch database at a tiny volume.
The HTTP figures' fixture is checked on it too, through gunicorn as the bench
serves it: the gate and the decision point allow what the bench times, and
the policy export answers an unchanged ETag with 304.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
# bench/run.py is a script, not a package's module: loaded from its path.
_SPEC = importlib.util.spec_from_file_location("bench_run_seed", ROOT / "bench" / "run.py")
run = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(run)


@pytest.fixture
def scratch_database(db):
    """Return the URL of a new empty database on the test server; drop it afterwards."""
    settings = connection.settings_dict
    server = (
        f"postgresql://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:"
        f"{settings['PORT'] or 5432}"
    )
    name = f"cs_seed_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_output(script: str, *args: str, env: dict | None = None) -> list[str]:
    """Run a bench script to its end; return the lines it printed, failing on its error."""
    result = subprocess.run(
        [sys.executable, script, *args],
        cwd=ROOT,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()


def test_the_bench_seed_fills_a_migrated_database(scratch_database):
    env = {**os.environ, "DATABASE_URL": scratch_database}
    lines = bench_output(
        "bench/seed.py", "--agents", "3", "--events", "40", "--observations", "30", env=env
    )
    counts = json.loads(lines[-1])
    assert (counts["agents"], counts["packages"], counts["audit_events"]) == (3, 15, 40)
    with psycopg.connect(scratch_database) as seeded:
        approved = seeded.execute(
            "SELECT count(*) FROM approvals_approvalpackage WHERE state = 'approved'"
        ).fetchone()[0]
    assert approved == 3
    bench_fixture_allows(scratch_database)


def bench_fixture_allows(url: str) -> None:
    """Serve the seeded database as the bench does; fail unless its HTTP checks pass."""
    server, database = url.rsplit("/", 1)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    run.PG, run.PORT = server, port
    run.REDIS = os.environ.get("REDIS_URL", run.REDIS)
    fixture = run.gate_fixture(database)
    assert len(run.evaluation_bodies(fixture)["batch"]["evaluations"]) == run.BATCH_SIZE
    with run.Gunicorn(database, workers=1):
        for body in run.gate_bodies(fixture).values():
            run.gate_allows(body, fixture["token"])
        run.evaluations_allow(fixture)
        assert run.policy_etag(fixture).startswith('"')


def test_the_drift_bench_seeds_and_evaluates_a_tiny_volume(scratch_database):
    lines = bench_output(
        "bench/drift_bench.py",
        "--url",
        scratch_database,
        "--agents",
        "3",
        "--observations-per-agent",
        "100",
    )
    figures = json.loads(lines[-1])
    assert figures["observations"] == 300
    # Per agent: 4 uses above the approved access and 2 unapproved tools.
    assert (figures["first_run"]["findings_created"], figures["findings"]) == (18, 18)
    assert figures["second_run"]["findings_created"] == 0


def test_the_actor_filter_bench_seeds_and_times_every_actor_at_a_tiny_volume(scratch_database):
    lines = bench_output(
        "bench/actor_filter.py", "--database-url", scratch_database, "--rows", "4000", "--runs", "1"
    )
    assert lines[0].startswith("4,000 events")
    groups = [line for line in lines[1:] if line.startswith("== ")]
    assert groups == ["== actor", "== agent", "== action", "== time", "== token"]
    shapes = [line for line in lines[1:] if not line.startswith("== ")]
    assert len(shapes) >= len(groups)
    assert all("filter alone" in line and "as the page reads it" in line for line in shapes)
