#!/usr/bin/env python
"""Time the audit trail's filter by actor with EXPLAIN ANALYZE, per shape of actor.

Seeds a scratch database with `generate_series` (no hash chain: the plans do not
read it): the first 3,000 events are one user's, far back; of the rest, 97% are
the CI token's, 2% two hundred users' (about 100 events each), 1% four system
jobs'. For each actor it prints the execution time of the first page as the
filter alone asks for it (`AuditEventFilterSet(...).qs`, `ORDER BY seq DESC
LIMIT 51`) and as the audit page and `GET /api/v1/audit/events` read it,
narrowed to the first events of each of the filter's parts
(`AuditEventFilterSet.parts`, `first_of`); `--plans` prints each plan's outer
nodes too. Usage:

    .venv/bin/python bench/actor_filter.py --rows 1000000 --runs 3

The database (`--database-url`, default cs_bench_actor) is kept; drop it after.
"""

import argparse
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from audit_bench import django_migrated  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cs_bench_actor"
PAGE = 51
# Where the CI token's events and the users' and jobs' begin: after the old user's.
OLD_EVENTS = 3000

SEED = """
INSERT INTO audit_auditevent (seq, created_at, actor_type, actor_id, actor_label,
  token_label, action, target_type, target_id, agent_slug, package_version, before,
  after, data, request_id, prev_hash, hash)
SELECT s, timestamptz '2026-01-01' + s * interval '1 second',
  CASE WHEN s <= %(old)s THEN 'user' WHEN s %% 100 < 97 THEN 'token'
       WHEN s %% 100 < 99 THEN 'user' ELSE 'system' END,
  CASE WHEN s <= %(old)s THEN '9001' WHEN s %% 100 < 97 THEN '1'
       WHEN s %% 100 < 99 THEN (1000 + (s / 100) %% 200)::text ELSE '' END,
  CASE WHEN s <= %(old)s THEN 'olduser' WHEN s %% 100 < 97 THEN 'ci-bot'
       WHEN s %% 100 < 99 THEN 'user' || ((s / 100) %% 200)
       ELSE 'celery:job' || ((s / 100) %% 4) END,
  '', 'gate.checked', '', '', 'agent-' || (s %% 50), 1, '{}', '{}', '{}', '', '', ''
FROM generate_series(1, %(rows)s) s
"""

ACTORS = [
    ("a user's username, ~100 events", "user5"),
    ("a user's id, ~100 events", "1005"),
    ("a name nobody acted as", "nobody"),
    ("a system job, ~2,500 events spread", "celery:job1"),
    ("the CI token, ~97% of events", "ci-bot"),
    ("3,000 events all far back, by username", "olduser"),
    ("3,000 events all far back, by id", "9001"),
]


def seed(rows: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute("TRUNCATE audit_auditevent, audit_checkpoint")
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
        cursor.execute(SEED, {"rows": rows, "old": OLD_EVENTS})
        # As autovacuum leaves a settled table: hint bits set, statistics taken.
        cursor.execute("VACUUM ANALYZE audit_auditevent")


def queries(actor: str) -> dict:
    """Return the first page's queryset for the actor: the filter alone, and narrowed by parts."""
    from audit.filters import AuditEventFilterSet, first_of
    from audit.models import AuditEvent

    filterset = AuditEventFilterSet({"actor": actor}, queryset=AuditEvent.objects.all())
    events, parts = filterset.qs, filterset.parts()
    narrowed = first_of(parts, "-seq", PAGE)
    return {
        "filter alone": events.order_by("-seq")[:PAGE],
        "narrowed by parts": narrowed.order_by("-seq")[:PAGE],
    }


def timed(queryset, runs: int) -> tuple[list[float], str]:
    times, plan = [], ""
    for _ in range(runs):
        plan = queryset.explain(analyze=True)
        times.append(float(re.search(r"Execution Time: ([\d.]+) ms", plan).group(1)))
    # The plan's first lines: its outer nodes, enough to tell a walk from a merge.
    return times, "\n".join(line for line in plan.splitlines()[:8])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--reuse", action="store_true", help="Keep rows already seeded.")
    parser.add_argument("--plans", action="store_true", help="Print each plan's outer nodes.")
    args = parser.parse_args()

    django_migrated(args.database_url)
    from audit.models import AuditEvent

    if not (args.reuse and AuditEvent.objects.count() == args.rows):
        seed(args.rows)
    print(f"{args.rows:,} events, {args.runs} runs each, ms (min-max)")
    for shape, actor in ACTORS:
        cells = []
        for name, queryset in queries(actor).items():
            times, plan = timed(queryset, args.runs)
            cells.append(f"{name} {min(times):.2f}-{max(times):.2f}")
            if args.plans:
                print(f"--- {shape} ({actor!r}), {name}:\n{plan}")
        print(f"{shape} ({actor!r}): " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
