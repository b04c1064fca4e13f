"""The benchmark's seed still fills the schema as the migrations leave it.

It writes with COPY, column by column, so a new non-null column breaks it
where no other test looks: this seeds a scratch database at a tiny volume.
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


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


def test_the_bench_seed_fills_a_migrated_database(scratch_database):
    env = {**os.environ, "DATABASE_URL": scratch_database}
    result = subprocess.run(
        [
            sys.executable,
            "bench/seed.py",
            "--agents",
            "3",
            "--events",
            "40",
            "--observations",
            "30",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert (counts["agents"], counts["packages"], counts["audit_events"]) == (3, 15, 40)
    with psycopg.connect(scratch_database) as seeded:
        approved = seeded.execute(
            "SELECT count(*) FROM approvals_approvalpackage WHERE state = 'approved'"
        ).fetchone()[0]
    assert approved == 3


def test_the_drift_bench_seeds_and_evaluates_a_tiny_volume(scratch_database):
    result = subprocess.run(
        [
            sys.executable,
            "bench/drift_bench.py",
            "--url",
            scratch_database,
            "--agents",
            "3",
            "--observations-per-agent",
            "100",
        ],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["observations"] == 300
    # Per agent: 4 uses above the approved access and 2 unapproved tools.
    assert (figures["first_run"]["findings_created"], figures["findings"]) == (18, 18)
    assert figures["second_run"]["findings_created"] == 0
