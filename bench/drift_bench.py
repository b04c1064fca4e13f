"""Benchmark the drift evaluation: 10,000 agents, 1,000,000 observations, on PostgreSQL.

Recreates a scratch database (default postgres://postgres@127.0.0.1:5432/cs_bench_drift),
migrates it, seeds it with COPY, runs `approvals.drift.drift_evaluate` twice (the
second run shows what an idempotent re-run costs) and prints the figures as JSON.
Not a test: run it by hand, `python bench/drift_bench.py`.

Each agent gets one approved package with 50 scope entries and 100 observations:
94 inside its scope, 4 above the approved access and 2 of unapproved tools, so
the first run opens 60,000 findings.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cs_bench_drift"
ENTRIES = 50
KINDS = ["action", "tool", "dataset", "endpoint", "external_api"]


def recreate(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-" + "x" * 40)
    os.environ.setdefault("DEBUG", "0")
    # Notifications are queued in memory: the benchmark measures the evaluation.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["SUSPEND_ON_CRITICAL_DRIFT"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def seed(agents: int, per_agent: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    now = timezone.now()
    user = get_user_model().objects.create(username="bench-owner", is_active=False)
    manifest = json.dumps(
        {"model": {"id": "bench-model", "prompt_digest": "sha256:" + "a" * 64}, "scope": {}}
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(
            "COPY agents_agent (id, slug, name, description, workload_id, log_principal,"
            " deployment, status, risk_tier, suspended_reason, created_at, updated_at)"
            " FROM STDIN"
        ) as copy:
            for n in range(1, agents + 1):
                copy.write_row(
                    (
                        n,
                        f"bench-{n}",
                        f"Bench {n}",
                        "",
                        f"spiffe://bench.example.com/ns/b/sa/bench-{n}",
                        f"agent:bench-{n}",
                        "internal_copilot",
                        "approved",
                        "high",
                        "",
                        now,
                        now,
                    )
                )
        with raw.copy(
            "COPY approvals_approvalpackage (id, agent_id, version, state, manifest, digest,"
            " risk_tier, is_recertification, diff, carried_over, created_at, approved_at,"
            " decided_at, submitted_at, expires_at, state_reason, created_by_id) FROM STDIN"
        ) as copy:
            for n in range(1, agents + 1):
                copy.write_row(
                    (
                        n,
                        n,
                        1,
                        "approved",
                        manifest,
                        f"{n:064x}",
                        "high",
                        False,
                        "{}",
                        False,
                        now,
                        now,
                        now,
                        now,
                        now.replace(year=now.year + 1),
                        "",
                        user.pk,
                    )
                )
        with raw.copy(
            "COPY approvals_scopeentry (package_id, kind, identifier, access, classification,"
            " trust_boundary, privileged, constraints, justification) FROM STDIN"
        ) as copy:
            for n in range(1, agents + 1):
                for e in range(ENTRIES):
                    copy.write_row(
                        (
                            n,
                            KINDS[e % 5],
                            f"use-{e}",
                            "write",
                            "internal",
                            "internal",
                            False,
                            "{}",
                            "",
                        )
                    )
        with raw.copy(
            "COPY agents_observation (agent_id, kind, identifier, access, count, first_seen,"
            " last_seen, source) FROM STDIN"
        ) as copy:
            for n in range(1, agents + 1):
                for o in range(per_agent):
                    e = o % ENTRIES
                    if o >= per_agent - 2:
                        row = ("tool", f"unapproved-{o}", "read")
                    elif o >= per_agent - 6:
                        row = (KINDS[e % 5], f"use-{e}", "execute")
                    else:
                        row = (KINDS[e % 5], f"use-{e}", "read" if o < ENTRIES else "write")
                    copy.write_row((n, *row, 3, now, now, "bench"))
        cursor.execute("ANALYZE")
    return {"seed_seconds": round(time.perf_counter() - started, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("BENCH_DRIFT_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--observations-per-agent", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--reuse", action="store_true", help="Keep the seeded database; drop only the findings."
    )
    args = parser.parse_args()

    if not args.reuse:
        recreate(args.url)
    setup_django(args.url)
    from django.core.management import call_command
    from django.db import connection

    from agents.models import Observation
    from approvals.drift import drift_evaluate
    from approvals.models import DriftFinding
    from audit.actors import Actor

    call_command("migrate", verbosity=0)
    if args.reuse:
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE approvals_driftfinding, outbox_notification CASCADE")
        figures = {"seed_seconds": None}
    else:
        figures = seed(args.agents, args.observations_per_agent)
    actor = Actor.system("bench:drift")

    runs = []
    for _ in range(2):
        started = time.perf_counter()
        run = drift_evaluate(actor=actor, batch_size=args.batch_size)
        runs.append(
            {
                "seconds": round(time.perf_counter() - started, 2),
                "batches": run.batches,
                "agents": run.agents,
                "findings_created": run.created,
                "queries_per_batch": sorted(set(run.queries_per_batch)),
            }
        )
    connection.close()
    figures.update(
        {
            "agents": args.agents,
            "observations": Observation.objects.count(),
            "findings": DriftFinding.objects.count(),
            "batch_size": args.batch_size,
            "first_run": runs[0],
            "second_run": runs[1],
            "target_seconds": 60,
        }
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
