"""Scope drift: compare what agents were seen using with what was approved.

The evaluation is set-based: per batch of agents, one INSERT ... SELECT opens
the findings that are missing, one UPDATE brings the live ones' counts up to
date, and one UPDATE resolves those a newer approved package now covers. The
number of queries per batch does not depend on the number of agents or
observations in it. Findings are keyed by the partial unique constraint
`one_live_finding_per_use`, so evaluating twice, or from two workers at once,
never makes a second finding for the same use.
"""

# The SQL below interpolates only constants (this module's and the vocabulary's); values go
# as parameters.
# ruff: noqa: S608

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from agents.models import Agent, ObservationKind
from agents.vocabulary import Access, Classification, TrustBoundary, ranks
from approvals.leases import lease_release, lease_renew, lease_take
from approvals.models import (
    LIVE_FINDING_STATUSES,
    ApprovalPackage,
    EmergencyState,
    FindingStatus,
    PackageState,
    ScopeKind,
    Severity,
)
from approvals.services import agent_suspend
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, InvalidTransition
from outbox.services import notify_many

logger = logging.getLogger(__name__)

# The lease of the one drift run in progress (approvals.leases), renewed after each batch:
# far longer than a batch takes, and it lapses soon after the job's time limit kills a run.
DRIFT_JOB = "drift-evaluate"
DRIFT_LEASE = timedelta(minutes=5)
# The reason of a finding the decision point raised: a claim beyond an approved entry.
CLAIM_EXCEEDED = "claim_exceeded"


def _rank(column: str) -> str:
    """Return SQL ranking an access level as the vocabulary does; anything else ranks lowest."""
    levels = " ".join(f"WHEN '{level}' THEN {rank + 1}" for level, rank in ranks(Access).items())
    return f"(CASE {column} {levels} ELSE 0 END)"


def _json(column: str, *path: str) -> str:
    if connection.vendor == "postgresql":
        keys = " -> ".join(f"'{key}'" for key in path[:-1])
        return f"({column} -> {keys} ->> '{path[-1]}')" if keys else f"({column} ->> '{path[-1]}')"
    return f"json_extract({column}, '$.{'.'.join(path)}')"


_SCOPE_KINDS = ", ".join(f"'{kind}'" for kind in ScopeKind.values)
_INTERNAL = TrustBoundary.INTERNAL
_LIVE = ", ".join(f"'{status}'" for status in LIVE_FINDING_STATUSES)
_MODEL, _PROMPT = ObservationKind.MODEL, ObservationKind.PROMPT
_OPEN, _RESOLVED = FindingStatus.OPEN, FindingStatus.RESOLVED
_APPROVED = PackageState.APPROVED
_HIGH, _CRITICAL = Severity.HIGH, Severity.CRITICAL


def _candidates_sql() -> str:
    """Return the CTE of every use, in agents lo..hi, outside every version in force.

    Severity is critical for a privileged entry or admin access, any write on
    restricted data, and any write across an external trust boundary.
    """
    observed, approved = _rank("o.access"), _rank("e.access")
    return f"""
    WITH live AS (
        -- The agent's approved package, and a newer one the gate allows under an
        -- emergency approval while its time box is open.
        SELECT p.id, p.agent_id, p.version, p.manifest,
               COALESCE(em.granted_at, p.approved_at) AS approved_at
        FROM approvals_approvalpackage p
        LEFT JOIN approvals_emergencyapproval em
          ON em.package_id = p.id AND em.state = '{EmergencyState.ACTIVE}'
         AND em.ends_at > %(now)s
        WHERE (p.state = '{PackageState.APPROVED}' OR em.id IS NOT NULL)
          AND p.agent_id BETWEEN %(lo)s AND %(hi)s
    ),
    pkg AS (
        -- Of those, the newest: what a finding is measured against and filed under.
        SELECT l.id, l.agent_id, l.approved_at,
               {_json("l.manifest", "model", "id")} AS model_id,
               {_json("l.manifest", "model", "prompt_digest")} AS prompt_digest
        FROM live l
        WHERE NOT EXISTS (
            SELECT 1 FROM live n WHERE n.agent_id = l.agent_id AND n.version > l.version)
    ),
    older AS (
        -- The approved version while a newer one ships on an emergency. Usually none.
        SELECT l.id, l.agent_id, l.manifest
        FROM live l
        WHERE EXISTS (
            SELECT 1 FROM live n WHERE n.agent_id = l.agent_id AND n.version > l.version)
    ),
    allowed AS (
        -- What the older versions allow, one row per use: the gate and the decision
        -- point allow what any version in force allows, so it is no drift.
        SELECT d.agent_id, x.kind, x.identifier, MAX({_rank("x.access")}) AS rank
        FROM older d JOIN approvals_scopeentry x ON x.package_id = d.id
        GROUP BY d.agent_id, x.kind, x.identifier
        UNION
        SELECT d.agent_id, '{_MODEL}', {_json("d.manifest", "model", "id")}, 0 FROM older d
        UNION
        SELECT d.agent_id, '{_PROMPT}', {_json("d.manifest", "model", "prompt_digest")}, 0
        FROM older d
    ),
    ent AS (
        -- The batch's entries only, fetched by package through the unique index.
        SELECT e.id, e.package_id, e.kind, e.identifier, e.access, e.privileged,
               e.trust_boundary, e.classification
        FROM approvals_scopeentry e JOIN pkg ON e.package_id = pkg.id
    ),
    cand AS (
        SELECT o.agent_id, pkg.id AS package_id, o.kind, o.identifier, o.access,
               o.count, o.first_seen, o.last_seen,
               CASE WHEN o.kind IN ('{_MODEL}', '{_PROMPT}') THEN o.kind || '_changed'
                    WHEN e.id IS NULL THEN 'unapproved_' || o.kind
                    ELSE 'higher_access' END AS reason,
               CASE WHEN o.kind IN ('{_MODEL}', '{_PROMPT}') THEN '{_HIGH}'
                    WHEN o.access = '{Access.ADMIN}'
                      OR (e.id IS NOT NULL AND e.privileged)
                      OR (o.access <> '{Access.READ}' AND (
                            o.kind = '{ScopeKind.EXTERNAL_API}'
                            OR COALESCE(e.trust_boundary, '{_INTERNAL}') <> '{_INTERNAL}'
                            OR COALESCE(e.classification, '') = '{Classification.RESTRICTED}'))
                    THEN '{_CRITICAL}' ELSE '{_HIGH}' END AS severity
        FROM agents_observation o
        JOIN pkg ON pkg.agent_id = o.agent_id
        LEFT JOIN ent e
          ON e.package_id = pkg.id AND e.kind = o.kind AND e.identifier = o.identifier
        LEFT JOIN allowed a
          ON a.agent_id = o.agent_id AND a.kind = o.kind AND a.identifier = o.identifier
        WHERE o.agent_id BETWEEN %(lo)s AND %(hi)s
          AND ((o.kind IN ({_SCOPE_KINDS}) AND (e.id IS NULL OR {observed} > {approved})
                AND (a.rank IS NULL OR {observed} > a.rank))
            -- A model or prompt seen since the approval other than one in force.
            OR (o.last_seen >= pkg.approved_at AND a.agent_id IS NULL AND (
                   (o.kind = '{_MODEL}' AND o.identifier <> COALESCE(pkg.model_id, ''))
                OR (o.kind = '{_PROMPT}' AND o.identifier <> COALESCE(pkg.prompt_digest, '')))))
    )"""


_INSERT = f"""
    INSERT INTO approvals_driftfinding
        (agent_id, package_id, kind, identifier, access, reason, severity, status,
         count, first_seen, last_seen, resolution)
    SELECT c.agent_id, c.package_id, c.kind, c.identifier, c.access, c.reason, c.severity,
           '{_OPEN}', c.count, c.first_seen, c.last_seen, ''
    FROM cand c
    WHERE NOT EXISTS (
        SELECT 1 FROM approvals_driftfinding r
        WHERE r.agent_id = c.agent_id AND r.kind = c.kind AND r.identifier = c.identifier
          AND r.access = c.access AND r.status = '{_RESOLVED}' AND r.last_seen >= c.last_seen)
    ON CONFLICT (agent_id, kind, identifier, access) WHERE status IN ({_LIVE}) DO NOTHING
    RETURNING id, agent_id, kind, identifier, access, reason, severity"""

_UPDATE = f"""
    UPDATE approvals_driftfinding AS f SET count = c.count, last_seen = c.last_seen
    FROM cand c
    WHERE f.agent_id = c.agent_id AND f.kind = c.kind AND f.identifier = c.identifier
      AND f.access = c.access AND f.status IN ({_LIVE})
      AND f.agent_id BETWEEN %(lo)s AND %(hi)s
      AND (f.count <> c.count OR f.last_seen <> c.last_seen)"""


def _findings_sql() -> list[str]:
    """Return the statements that open new findings (returned) and update live ones.

    A candidate opens a finding unless one is live for the same use (the
    partial unique constraint arbitrates races) or a resolved one already saw
    its latest sighting. On PostgreSQL both run in one statement over one
    evaluation of the candidates; elsewhere in two.
    """
    if connection.vendor == "postgresql":
        return [
            _candidates_sql()
            + f", ins AS ({_INSERT}), upd AS ({_UPDATE} RETURNING f.id) "
            + "SELECT ins.* FROM ins"
        ]
    return [_candidates_sql() + _INSERT, _candidates_sql() + _UPDATE]


def _resolve_sql() -> str:
    """Resolve the live findings that the agent's now-approved package covers."""
    # SQLite's RETURNING names the modified table's columns unqualified only.
    columns = "id, agent_id, kind, identifier, access, resolution"
    if connection.vendor == "postgresql":
        columns = ", ".join(f"f.{column}" for column in columns.split(", "))
    return f"""
    UPDATE approvals_driftfinding AS f
    SET status = '{_RESOLVED}',
        resolution = 'Covered by approved package v' || p.version || '.'
    FROM approvals_approvalpackage p
    WHERE p.agent_id = f.agent_id AND p.state = '{_APPROVED}'
      AND f.agent_id BETWEEN %(lo)s AND %(hi)s
      AND f.status IN ({_LIVE}) AND f.reason <> '{CLAIM_EXCEEDED}'
      AND (f.package_id IS NULL OR f.package_id <> p.id)
      AND ((f.kind IN ({_SCOPE_KINDS}) AND EXISTS (
              SELECT 1 FROM approvals_scopeentry e
              WHERE e.package_id = p.id AND e.kind = f.kind AND e.identifier = f.identifier
                AND {_rank("e.access")} >= {_rank("f.access")}))
        OR (f.kind = '{_MODEL}' AND f.identifier = {_json("p.manifest", "model", "id")})
        OR (f.kind = '{_PROMPT}'
            AND f.identifier = {_json("p.manifest", "model", "prompt_digest")}))
    RETURNING {columns}"""


@dataclass
class DriftRun:
    batches: int = 0
    agents: int = 0
    created: int = 0
    resolved: int = 0
    suspended: list[str] = field(default_factory=list)
    queries_per_batch: list[int] = field(default_factory=list)
    skipped: bool = False

    def as_dict(self) -> dict:
        return {
            "batches": self.batches,
            "agents": self.agents,
            "created": self.created,
            "resolved": self.resolved,
            "suspended": self.suspended,
            "skipped": self.skipped,
        }


def _batch_bounds(after: int, size: int) -> tuple[int, int, int] | None:
    """Return (first agent id, last agent id, agents) of the next batch with an approved package."""
    ids = list(
        ApprovalPackage.objects.filter(state=PackageState.APPROVED, agent_id__gt=after)
        .order_by("agent_id")
        .values_list("agent_id", flat=True)[:size]
    )
    return (ids[0], ids[-1], len(ids)) if ids else None


@transaction.atomic
def drift_evaluate_batch(*, actor: Actor, lo: int, hi: int) -> tuple[list, list]:
    """Evaluate the agents with ids lo..hi; return the findings opened and resolved."""
    params = {"lo": lo, "hi": hi, "now": timezone.now()}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The connection prepares repeated statements; a plan made once for any
            # bounds misjudges each batch's range, so these are planned for their own.
            cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        cursor.execute(_resolve_sql(), params)
        resolved = cursor.fetchall()
        statements = _findings_sql()
        cursor.execute(statements[0], params)
        created = cursor.fetchall()
        for statement in statements[1:]:
            cursor.execute(statement, params)
    if not (created or resolved):
        return [], []
    agent_ids = {row[1] for row in created} | {row[1] for row in resolved}
    slugs = dict(Agent.objects.filter(pk__in=agent_ids).values_list("pk", "slug"))
    opened = [
        {
            "id": pk,
            "agent": slugs[agent_id],
            "kind": kind,
            "identifier": identifier,
            "access": access,
            "reason": reason,
            "severity": severity,
        }
        for pk, agent_id, kind, identifier, access, reason, severity in created
    ]
    closed = [
        {
            "id": pk,
            "agent": slugs[agent_id],
            "kind": kind,
            "identifier": identifier,
            "access": access,
            "resolution": resolution,
        }
        for pk, agent_id, kind, identifier, access, resolution in resolved
    ]
    findings_record(actor=actor, agent_ids=[lo, hi], opened=opened, closed=closed)
    return opened, closed


def findings_record(*, actor: Actor, agent_ids: list[int], opened: list, closed: list) -> None:
    """Audit the findings a run opened and resolved, and tell the owners of the new ones."""
    audit_record(
        actor=actor,
        action="drift.evaluated",
        data={"agent_ids": agent_ids, "opened": opened, "resolved": closed},
    )
    by_agent: dict[str, list[dict]] = {}
    for finding in opened:
        by_agent.setdefault(finding["agent"], []).append(finding)
    notify_many(
        "drift.found",
        [
            {
                "agent": slug,
                "data": {
                    "findings": len(found),
                    "critical": sum(f["severity"] == Severity.CRITICAL for f in found),
                    "uses": [
                        f"{f['kind']} {f['identifier']} ({f['access'] or '-'}): {f['reason']}"
                        for f in found[:20]
                    ],
                },
            }
            for slug, found in sorted(by_agent.items())
        ],
    )


def _suspension_candidates() -> list[int]:
    """Return the agents the setting says to suspend: open critical drift, not suspended."""
    countersign = settings.COUNTERSIGN
    if not countersign["SUSPEND_ON_CRITICAL_DRIFT"]:
        return []
    return list(
        Agent.objects.filter(
            suspended_at__isnull=True,
            risk_tier__in=countersign["SUSPEND_ON_CRITICAL_DRIFT_TIERS"],
            drift_findings__status=FindingStatus.OPEN,
            drift_findings__severity=Severity.CRITICAL,
        )
        .values_list("pk", flat=True)
        .distinct()
    )


def drift_suspend(*, actor: Actor, agent_id: int) -> bool:
    """Suspend the agent if it still has an open critical finding; return whether it did.

    The agent is measured again under its row lock first: a version approved since
    its batch ran resolves the findings it covers, and a suspension would revoke it.
    """
    with transaction.atomic():
        agent = Agent.objects.select_for_update(no_key=True).filter(pk=agent_id).first()
        if agent is None or agent.suspended_at is not None:
            return False
        drift_evaluate_batch(actor=actor, lo=agent.pk, hi=agent.pk)
        finding = (
            agent.drift_findings.filter(status=FindingStatus.OPEN, severity=Severity.CRITICAL)
            .order_by("first_seen")
            .first()
        )
        if finding is None:
            return False
        agent_suspend(
            actor=actor,
            agent=agent,
            reason=(
                f"Critical scope drift: {finding.kind} {finding.identifier} "
                f"({finding.access or '-'}), {finding.reason}."
            ),
        )
    return True


class _QueryCounter:
    """Count the statements a batch runs (connection.execute_wrapper)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def drift_evaluate(*, actor: Actor, batch_size: int | None = None) -> DriftRun:
    """Evaluate every agent with an approved package, batch by batch; then suspend as set.

    Only one run evaluates at a time (a second one returns at once); each
    batch commits on its own, so an interrupted run keeps what it finished
    and the next run catches up from the database.
    """
    run = DriftRun()
    holder = lease_take(DRIFT_JOB, DRIFT_LEASE)
    if holder is None:
        run.skipped = True
        return run
    try:
        size = batch_size or settings.COUNTERSIGN["DRIFT_BATCH_SIZE"]
        after = 0
        while (bounds := _batch_bounds(after, size)) is not None:
            lo, hi, agents = bounds
            counter = _QueryCounter()
            with connection.execute_wrapper(counter):
                opened, closed = drift_evaluate_batch(actor=actor, lo=lo, hi=hi)
            # The statement that found the batch's bounds counts too.
            run.queries_per_batch.append(counter.count + 1)
            run.batches += 1
            run.agents += agents
            run.created += len(opened)
            run.resolved += len(closed)
            after = hi
            if not lease_renew(DRIFT_JOB, holder, DRIFT_LEASE):
                # The lease lapsed and another run holds it: that run evaluates the rest.
                logger.warning("drift run stopped after %s batches: its lease lapsed", run.batches)
                break
    finally:
        lease_release(DRIFT_JOB, holder)
    for agent_id in _suspension_candidates():
        try:
            if drift_suspend(actor=actor, agent_id=agent_id):
                run.suspended.append(agent_id)
        except (InvalidTransition, InvalidInput):
            logger.info("agent %s was suspended meanwhile", agent_id)
    return run
