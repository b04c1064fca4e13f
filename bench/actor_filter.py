#!/usr/bin/env python
"""Time the audit trail's filter by actor with EXPLAIN ANALYZE, per shape of actor.

Seeds a scratch database with `generate_series` (no hash chain: the plans do not
read it): the first 3,000 events are one user's, far back, half in the busy
agent-0 and half in three quiet agents, half of them gate checks; of the rest,
97% are the CI token's gate checks over agents 1-49 (over agent-0 too in the
first 20,000 events only), 2% two hundred users' (about 100 events each; sign-offs
in agent-0, submissions in agent-48), 1% four system jobs'. For each shape it
prints the execution time of the first page as the filter alone asks for it
(`AuditEventFilterSet(...).qs`, `ORDER BY seq DESC LIMIT 51`) and as the audit
page and `GET /api/v1/audit/events` read it, narrowed to the first events of
each of the filter's parts (`AuditEventFilterSet.parts`, `first_of`); `--plans`
prints each plan's outer nodes too. `--shapes` picks the groups: the actor
alone, the actor with an agent, with an action, with a time range, and a token
bound to three agents (the event list's `agent_slug IN (...)`). Usage:

    .venv/bin/python bench/actor_filter.py --rows 1000000 --runs 3
    .venv/bin/python bench/actor_filter.py --reuse --shapes agent action time token

The database (`--database-url`, default cs_bench_actor) is kept; drop it after.
"""

import argparse
import os
import re
import sys
from datetime import UTC, datetime, timedelta
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
  '',
  CASE WHEN s <= %(old)s THEN
         CASE WHEN s %% 4 < 2 THEN 'gate.checked' ELSE 'signoff.decided' END
       WHEN s %% 100 < 97 THEN 'gate.checked'
       WHEN s %% 100 = 97 THEN 'signoff.decided'
       WHEN s %% 100 = 98 THEN 'package.submitted' ELSE 'outbox.delivered' END,
  '', '',
  CASE WHEN s <= %(old)s THEN
         CASE WHEN s %% 2 = 0 THEN 'agent-0' ELSE 'quiet-' || (s %% 3) END
       WHEN s %% 100 < 97 AND s > %(ci_agent0)s THEN 'agent-' || (1 + s %% 49)
       ELSE 'agent-' || (s %% 50) END,
  1, '{}', '{}', '{}', '', '', ''
FROM generate_series(1, %(rows)s) s
"""
# The CI token acts for agent-0 only before this event: its few agent-0 events lie far back.
CI_AGENT0_UNTIL = 20_000


def at(seq: int) -> str:
    """Return the time of the seeded event `seq`, one a second from 2026-01-01, in ISO 8601."""
    return (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seq)).isoformat()


ACTORS = [
    ("a user's username, ~100 events", "user5"),
    ("a user's id, ~100 events", "1005"),
    ("a name nobody acted as", "nobody"),
    ("a system job, ~2,500 events spread", "celery:job1"),
    ("the CI token, ~97% of events", "ci-bot"),
    ("3,000 events all far back, by username", "olduser"),
    ("3,000 events all far back, by id", "9001"),
]

# Each shape: its name, the filters, and the agents a token is bound to (None: a staff reader).
SHAPES = {
    "actor": [(shape, {"actor": actor}, None) for shape, actor in ACTORS],
    "agent": [
        ("a user + an agent of theirs", {"actor": "user5", "agent": "agent-0"}, None),
        ("a user + an agent not theirs", {"actor": "user5", "agent": "agent-7"}, None),
        ("old user + busy agent-0, all far back", {"actor": "olduser", "agent": "agent-0"}, None),
        ("old user by id + busy agent-0", {"actor": "9001", "agent": "agent-0"}, None),
        (
            "CI token + busy agent-0, its few far back",
            {"actor": "ci-bot", "agent": "agent-0"},
            None,
        ),
        ("CI token + agent-7", {"actor": "ci-bot", "agent": "agent-7"}, None),
        (
            "a system job + an agent it never acts for",
            {"actor": "celery:job1", "agent": "agent-0"},
            None,
        ),
    ],
    "action": [
        ("a user + their action", {"actor": "user5", "action": "signoff.decided"}, None),
        (
            "old user + gate checks (97%), all far back",
            {"actor": "olduser", "action": "gate.checked"},
            None,
        ),
        ("old user by id + gate checks", {"actor": "9001", "action": "gate.checked"}, None),
        ("CI token + sign-offs, none", {"actor": "ci-bot", "action": "signoff.decided"}, None),
        ("CI token + gate checks", {"actor": "ci-bot", "action": "gate.checked"}, None),
        (
            "a system job + gate checks, none",
            {"actor": "celery:job1", "action": "gate.checked"},
            None,
        ),
    ],
    "time": [
        ("a user + the first day", {"actor": "user5", "until": at(86_400)}, None),
        (
            "a user + a day mid-trail",
            {"actor": "user5", "since": at(500_000), "until": at(586_400)},
            None,
        ),
        ("old user + since mid-trail, none", {"actor": "olduser", "since": at(500_000)}, None),
        ("CI token + until event 20,000", {"actor": "ci-bot", "until": at(20_000)}, None),
        (
            "CI token + a day mid-trail",
            {"actor": "ci-bot", "since": at(500_000), "until": at(586_400)},
            None,
        ),
        (
            "CI token + an hour mid-trail",
            {"actor": "ci-bot", "since": at(500_000), "until": at(503_600)},
            None,
        ),
    ],
    "token": [
        ("token, 3 busy agents", {}, ["agent-1", "agent-2", "agent-3"]),
        ("token, 3 quiet agents, all far back", {}, ["quiet-0", "quiet-1", "quiet-2"]),
        ("token, 1 busy + 2 quiet agents", {}, ["agent-7", "quiet-1", "quiet-2"]),
        ("token, 3 busy agents + a user", {"actor": "user5"}, ["agent-0", "agent-1", "agent-48"]),
        (
            "token, 3 busy agents + old user",
            {"actor": "olduser"},
            ["agent-0", "agent-1", "agent-2"],
        ),
        (
            "token, 3 quiet agents + CI token",
            {"actor": "ci-bot"},
            ["quiet-0", "quiet-1", "quiet-2"],
        ),
        (
            "token, 3 busy agents + sign-offs",
            {"action": "signoff.decided"},
            ["agent-1", "agent-2", "agent-3"],
        ),
    ],
}


def seed(rows: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        cursor.execute("TRUNCATE audit_auditevent, audit_checkpoint")
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
        cursor.execute(SEED, {"rows": rows, "old": OLD_EVENTS, "ci_agent0": CI_AGENT0_UNTIL})
        # As autovacuum leaves a settled table: hint bits set, statistics taken.
        cursor.execute("VACUUM ANALYZE audit_auditevent")


def queries(filters: dict, slugs: list[str] | None) -> dict:
    """Return the first page's queryset for the filters, of the `slugs` agents only when
    set (as `GET /api/v1/audit/events` reads for a token bound to them): the filter
    alone, and narrowed by parts."""
    from audit.filters import AuditEventFilterSet, first_of
    from audit.models import AuditEvent

    events = AuditEvent.objects.all()
    filterset = AuditEventFilterSet(filters, queryset=events)
    assert filterset.is_valid(), filterset.errors
    parts = filterset.parts(agents=slugs)
    events = filterset.qs if slugs is None else filterset.qs.filter(agent_slug__in=slugs)
    # One part is the filter alone: the page and the event list read it as it is.
    narrowed = first_of(parts, "-seq", PAGE) if len(parts) > 1 else events
    return {
        "filter alone": events.order_by("-seq")[:PAGE],
        "as the page reads it": narrowed.order_by("-seq")[:PAGE],
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
    parser.add_argument(
        "--shapes", nargs="+", choices=list(SHAPES), default=list(SHAPES), help="Groups to time."
    )
    args = parser.parse_args()

    django_migrated(args.database_url)
    from audit.models import AuditEvent

    if not (args.reuse and AuditEvent.objects.count() == args.rows):
        seed(args.rows)
    print(f"{args.rows:,} events, {args.runs} runs each, ms (min-max)")
    for group in args.shapes:
        print(f"== {group}")
        for shape, filters, slugs in SHAPES[group]:
            cells = []
            for name, queryset in queries(filters, slugs).items():
                times, plan = timed(queryset, args.runs)
                cells.append(f"{name} {min(times):.2f}-{max(times):.2f}")
                if args.plans:
                    print(f"--- {shape} ({filters}), {name}:\n{plan}")
            print(f"{shape} ({filters}): " + "; ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
