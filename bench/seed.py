"""Seed a PostgreSQL database with a realistic volume for the benchmarks.

Run with DATABASE_URL pointing at a scratch database; it is migrated and
filled with COPY: agents with five package versions each (the newest approved,
with its scope entries and sign-offs), a valid hash chain of audit events, and
observations. Usage: python bench/seed.py --agents 10000 --events 1000000
--observations 1000000
"""

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from agents.membership import team_members_change  # noqa: E402
from agents.models import Team  # noqa: E402
from agents.services import team_create  # noqa: E402
from approvals import manifest as manifests  # noqa: E402
from approvals.checklists import checklists_load  # noqa: E402
from audit.actors import Actor  # noqa: E402
from audit.chain import GENESIS_HASH, STORED_COLUMNS, event_hash, format_time  # noqa: E402
from signoffs.models import Checklist  # noqa: E402

EXAMPLE = Path(__file__).resolve().parent.parent / "examples"
VERSIONS = 5
TEAMS = [f"team-{n:02d}" for n in range(20)]
DEPLOYMENTS = ["internal_copilot", "customer_facing", "regulated_workflow"]
REVIEWERS = ["iam", "pam", "security", "compliance"]


def copy_rows(table: str, columns: list[str], rows) -> int:
    """Stream rows into a table with COPY; return how many."""
    count = 0
    with connection.cursor() as cursor:
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
    return count


def manifest_for(slug: str, n: int) -> dict:
    name = "support-agent.yaml" if n % 3 else "hr-copilot.yaml"
    doc = manifests.load_manifest((EXAMPLE / name).read_text())
    doc["agent"] = slug
    doc["name"] = slug.replace("-", " ").title()
    doc["team"] = TEAMS[n % len(TEAMS)]
    doc["identity"]["workload_id"] = f"spiffe://bench.example.com/ns/bench/sa/{slug}"
    doc["identity"]["log_principal"] = f"agent:{slug}"
    doc["kill_switch"]["last_tested"] = (timezone.now().date() - timedelta(days=3)).isoformat()
    return manifests.normalize_manifest(doc)


def seed(agents: int, events: int, observations: int) -> dict:
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    if not Checklist.objects.exists():
        with transaction.atomic():
            checklists_load(actor=Actor.system("bench"))
    User = get_user_model()
    users = {}
    for role in ["owner", *[f"{r}{i}" for r in REVIEWERS for i in (1, 2)]]:
        users[role], _ = User.objects.get_or_create(username=f"bench-{role}")
    team_ids = seed_teams(users["owner"])
    checklist_ids = dict(Checklist.objects.filter(is_active=True).values_list("dimension", "id"))
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(id), 0) FROM agents_agent")
        base_agent = cursor.fetchone()[0]
        cursor.execute("SELECT coalesce(max(id), 0) FROM approvals_approvalpackage")
        base_package = cursor.fetchone()[0]
        cursor.execute("SELECT coalesce(max(id), 0) FROM signoffs_signoff")
        base_signoff = cursor.fetchone()[0]

    docs = []
    for n in range(agents):
        slug = f"bench-agent-{n:05d}"
        doc = manifest_for(slug, n)
        docs.append(
            (
                slug,
                doc,
                manifests.text_digest(manifests.canonical_json(doc)),
                manifests.compute_risk_tier(doc),
            )
        )

    copy_rows(
        "agents_agent",
        [
            "id",
            "slug",
            "name",
            "description",
            "team_id",
            "workload_id",
            "log_principal",
            "deployment",
            "status",
            "risk_tier",
            "created_at",
            "updated_at",
            "suspended_reason",
        ],
        (
            (
                base_agent + n + 1,
                slug,
                doc["name"],
                doc["justification"],
                team_ids[doc["team"]],
                doc["identity"]["workload_id"],
                doc["identity"]["log_principal"],
                DEPLOYMENTS[n % 3],
                "approved",
                tier,
                now,
                now,
                "",
            )
            for n, (slug, doc, _, tier) in enumerate(docs)
        ),
    )
    copy_rows(
        "agents_agent_owners",
        ["agent_id", "user_id"],
        ((base_agent + n + 1, users["owner"].pk) for n in range(agents)),
    )

    def packages():
        pid = base_package
        for n, (_, doc, digest, tier) in enumerate(docs):
            text = json.dumps(doc)
            for version in range(1, VERSIONS + 1):
                pid += 1
                latest = version == VERSIONS
                approved_at = now - timedelta(days=VERSIONS - version + 1)
                yield (
                    pid,
                    base_agent + n + 1,
                    version,
                    "approved" if latest else "superseded",
                    text,
                    digest,
                    tier,
                    False,
                    "{}",
                    False,
                    users["owner"].pk,
                    approved_at,
                    users["owner"].pk,
                    approved_at,
                    approved_at,
                    approved_at,
                    now + timedelta(days=30) if latest else approved_at,
                    None if latest else approved_at,
                    "",
                    "",
                )

    copy_rows(
        "approvals_approvalpackage",
        [
            "id",
            "agent_id",
            "version",
            "state",
            "manifest",
            "digest",
            "risk_tier",
            "is_recertification",
            "diff",
            "carried_over",
            "created_by_id",
            "created_at",
            "submitted_by_id",
            "submitted_at",
            "decided_at",
            "approved_at",
            "expires_at",
            "closed_at",
            "state_reason",
            "source_digest",
        ],
        packages(),
    )

    def entries():
        for n, (_, doc, _, _) in enumerate(docs):
            package_id = base_package + (n + 1) * VERSIONS
            for key in manifests.SCOPE_KINDS:
                for entry in doc["scope"][key]:
                    yield (
                        package_id,
                        manifests.KIND_BY_KEY[key],
                        entry["id"],
                        entry["access"],
                        entry["classification"],
                        entry["trust_boundary"],
                        entry["privileged"],
                        json.dumps(entry["constraints"]),
                        entry["justification"],
                    )

    copy_rows(
        "approvals_scopeentry",
        [
            "package_id",
            "kind",
            "identifier",
            "access",
            "classification",
            "trust_boundary",
            "privileged",
            "constraints",
            "justification",
        ],
        entries(),
    )

    def signoffs():
        sid = base_signoff
        for n in range(agents):
            for version in range(1, VERSIONS + 1):
                for dimension in REVIEWERS:
                    sid += 1
                    yield (
                        sid,
                        base_package + n * VERSIONS + version,
                        dimension,
                        checklist_ids[dimension],
                        1,
                        "approved",
                        now,
                        now,
                    )

    copy_rows(
        "signoffs_signoff",
        [
            "id",
            "package_id",
            "dimension",
            "checklist_id",
            "required_approvals",
            "state",
            "created_at",
            "updated_at",
        ],
        signoffs(),
    )
    copy_rows(
        "signoffs_decision",
        [
            "signoff_id",
            "reviewer_id",
            "verdict",
            "comment",
            "answers",
            "created_at",
            "auth_method",
            "auth_acr",
            "auth_amr",
        ],
        (
            (
                base_signoff + (n * VERSIONS + v) * 4 + d + 1,
                users[f"{dim}1"].pk,
                "approve",
                "Checked.",
                "{}",
                now,
                "console",
                "",
                "[]",
            )
            for n in range(agents)
            for v in range(VERSIONS)
            for d, dim in enumerate(REVIEWERS)
        ),
    )
    seeded_events = seed_audit(events, [slug for slug, *_ in docs], now)
    seeded_observations = seed_observations(observations, docs, base_agent, now)
    with connection.cursor() as cursor:
        for table in ("agents_agent", "approvals_approvalpackage", "signoffs_signoff"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
        cursor.execute("ANALYZE")
    return {
        "agents": agents,
        "packages": agents * VERSIONS,
        "audit_events": seeded_events,
        "observations": seeded_observations,
        "seconds": round(time.perf_counter() - started, 1),
    }


def seed_teams(owner) -> dict[str, int]:
    """Create the teams the seeded agents belong to, the owner a member; return their ids."""
    actor = Actor.system("bench")
    ids = {}
    with transaction.atomic():
        for slug in TEAMS:
            team = Team.objects.filter(slug=slug).first() or team_create(
                actor=actor, slug=slug, name=slug.replace("-", " ").title()
            )
            team_members_change(actor=actor, team=team, source="command", add=[owner])
            ids[slug] = team.pk
    return ids


def seed_audit(events: int, slugs: list[str], now) -> int:
    """Append a valid chain of `events` gate-check events after the existing head."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, hash FROM audit_auditevent ORDER BY seq DESC LIMIT 1")
        head = cursor.fetchone()
    seq, prev = head if head else (0, GENESIS_HASH)
    start = now - timedelta(seconds=events)

    def rows():
        nonlocal seq, prev
        for n in range(events):
            seq += 1
            created = start + timedelta(seconds=n)
            fields = {
                "seq": seq,
                "created_at": format_time(created),
                "actor_type": "token",
                "actor_id": "1",
                "actor_label": "ci-bot",
                "token_label": "token:bench (ci)",
                "action": "gate.checked",
                "target_type": "",
                "target_id": "",
                "agent_slug": slugs[n % len(slugs)],
                "package_version": 5,
                "before": {},
                "after": {},
                "data": {"decision": "allow", "reasons": []},
                "request_id": "",
            }
            digest = event_hash(prev, fields)
            yield (
                seq,
                created,
                "token",
                "1",
                "ci-bot",
                "token:bench (ci)",
                "gate.checked",
                "",
                "",
                fields["agent_slug"],
                5,
                "{}",
                "{}",
                '{"decision": "allow", "reasons": []}',
                "",
                prev,
                digest,
            )
            prev = digest

    return copy_rows(
        "audit_auditevent",
        list(STORED_COLUMNS),
        rows(),
    )


def seed_observations(total: int, docs, base_agent: int, now) -> int:
    """Report what each agent used: mostly its approved scope, a few uses outside it."""
    per_agent = max(1, total // max(1, len(docs)))

    def rows():
        for n, (_, doc, _, _) in enumerate(docs):
            approved = [
                (manifests.KIND_BY_KEY[key], e["id"], e["access"])
                for key in manifests.SCOPE_KINDS
                for e in doc["scope"][key]
            ]
            for i in range(per_agent):
                if i < len(approved):
                    kind, identifier, access = approved[i]
                elif i % 50 == 0:
                    kind, identifier, access = "tool", f"unapproved-tool-{i}", "write"
                else:
                    kind, identifier, access = "endpoint", f"https://svc.internal/{n}/{i}", "read"
                yield (base_agent + n + 1, kind, identifier, access, 3, now, now, "bench")

    return copy_rows(
        "agents_observation",
        ["agent_id", "kind", "identifier", "access", "count", "first_seen", "last_seen", "source"],
        rows(),
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--observations", type=int, default=1_000_000)
    args = parser.parse_args()
    print(json.dumps(seed(args.agents, args.events, args.observations)))
