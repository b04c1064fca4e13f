"""The release gate: may this exact scope ship? Denies whenever it cannot say yes."""

import logging
from dataclasses import dataclass, field
from datetime import UTC

from django.utils import timezone

from agents.models import Agent
from approvals import manifest as manifests
from approvals.models import (
    LIVE_FINDING_STATUSES,
    ApprovalPackage,
    DriftFinding,
    PackageState,
    Severity,
)
from audit.actors import Actor
from audit.services import audit_record_alone
from config.db import prepared_cursor

logger = logging.getLogger(__name__)

ALLOW = "allow"
DENY = "deny"


@dataclass
class GateResult:
    decision: str = DENY
    reasons: list[dict] = field(default_factory=list)
    package_version: int | None = None
    digest: str | None = None
    expires_at: str | None = None

    def deny(self, code: str, message: str, **details) -> None:
        self.reasons.append({"code": code, "message": message, **details})

    def as_dict(self) -> dict:
        return {
            "decision": self.decision,
            "reasons": self.reasons,
            "package_version": self.package_version,
            "digest": self.digest,
            "expires_at": self.expires_at,
        }


# Every check runs this one statement: the agent, its last approved version and
# whether a critical finding is open. Written as SQL because building the same
# query through the ORM cost several times its execution on every deploy's check.
DECISION_SQL = f"""
SELECT a.suspended_at,
       EXISTS (SELECT 1 FROM {DriftFinding._meta.db_table} d
               WHERE d.agent_id = a.id AND d.severity = %s AND d.status IN (%s, %s)),
       p.id, p.version, p.state, p.digest, p.expires_at
FROM {Agent._meta.db_table} a
LEFT JOIN {ApprovalPackage._meta.db_table} p ON p.id = (
    SELECT q.id FROM {ApprovalPackage._meta.db_table} q
    WHERE q.agent_id = a.id AND q.approved_at IS NOT NULL
    ORDER BY q.version DESC LIMIT 1)
WHERE a.slug = %s
"""  # noqa: S608 - table names come from the models; values are parameters


def _decision_row(agent_slug: str) -> dict | None:
    with prepared_cursor() as cursor:
        cursor.execute(DECISION_SQL, [Severity.CRITICAL.value, *LIVE_FINDING_STATUSES, agent_slug])
        row = cursor.fetchone()
    if row is None:
        return None
    suspended_at, drift, pk, version, state, digest, expires_at = row
    if expires_at is not None and timezone.is_naive(expires_at):
        expires_at = timezone.make_aware(expires_at, UTC)  # SQLite hands back naive UTC
    return {
        "suspended_at": suspended_at,
        "critical_drift": bool(drift),
        "pk": pk,
        "version": version,
        "state": state,
        "digest": digest,
        "expires_at": expires_at,
    }


def _evaluate(agent_slug: str, manifest, digest: str | None) -> GateResult:
    """Decide from one query: the agent, its last approved version, open critical drift."""
    result = GateResult()
    package = _decision_row(agent_slug)
    if package is None:
        result.deny("unknown_agent", f"No agent {agent_slug!r} is registered.")
        return result
    _deny_agent(result, package)
    if package["pk"] is None:
        result.deny("no_approved_package", "No version of this agent was ever approved.")
        return _finish(result)
    state, expires_at = package["state"], package["expires_at"]
    if state == PackageState.EXPIRED or (
        state == PackageState.APPROVED and expires_at <= timezone.now()
    ):
        result.deny(
            "approval_expired",
            f"The approval of v{package['version']} expired on {expires_at:%Y-%m-%d}.",
        )
    elif state != PackageState.APPROVED:
        result.deny(
            "no_approved_package",
            f"The last approved version v{package['version']} is {state}.",
        )
    result.package_version = package["version"]
    result.digest = package["digest"]
    result.expires_at = expires_at.isoformat() if expires_at else None
    _compare_scope(result, package, manifest, digest)
    return _finish(result)


def _deny_agent(result: GateResult, row: dict) -> None:
    if row["suspended_at"] is not None:
        result.deny("agent_suspended", "The agent's kill switch was pulled; it may not ship.")
    if row["critical_drift"]:
        result.deny("open_critical_drift", "A critical scope-drift finding is open.")


def _finish(result: GateResult) -> GateResult:
    if not result.reasons:
        result.decision = ALLOW
    return result


def _compare_scope(result: GateResult, package: dict, manifest, digest: str | None) -> None:
    """Deny a scope beyond the approved one; `digest` is the manifest's when one is given."""
    if manifest is not None:
        if digest == package["digest"]:
            return
        approved = ApprovalPackage.objects.values_list("manifest", flat=True).get(pk=package["pk"])
        diff = manifests.diff_manifests(approved, manifest)
        if diff.is_expansion:
            result.deny(
                "scope_mismatch",
                f"The manifest expands the scope approved in v{package['version']}.",
                expansions=[change.as_dict() for change in diff.expansions],
            )
    elif digest != package["digest"]:
        result.deny(
            "scope_mismatch",
            f"The digest is not the one approved in v{package['version']}.",
            expansions=[],
        )


def gate_check(
    *, actor: Actor, agent_slug: str, manifest: dict | None = None, digest: str | None = None
) -> GateResult:
    """Answer whether the agent may ship this manifest (or digest); audit every answer.

    `manifest` must already be validated and normalized. Any failure while
    deciding, or while recording the decision, answers deny.
    """
    requested = digest
    try:
        if manifest is not None:
            requested = manifests.normalized_digest(manifest)
        result = _evaluate(agent_slug, manifest, requested)
    except Exception:
        logger.exception("gate check failed for %s", agent_slug)
        result = GateResult()
        result.deny("internal_error", "The gate could not decide, so it denies.")
    try:
        audit_record_alone(
            actor=actor,
            action="gate.checked",
            agent_slug=agent_slug[:64],
            package_version=result.package_version,
            data={
                "decision": result.decision,
                "reasons": [r["code"] for r in result.reasons],
                "requested_digest": requested,
            },
        )
    except Exception:
        logger.exception("gate check could not be audited for %s", agent_slug)
        result = GateResult(
            reasons=[
                {"code": "audit_unavailable", "message": "The decision could not be recorded."}
            ]
        )
    return result


def gate_refuse(
    *, actor: Actor, agent_slug: str, code: str, message: str, fields: dict | None = None
) -> GateResult:
    """Deny a check whose request or manifest could not be read, and audit it as any other."""
    result = GateResult()
    result.deny(code, message, fields=fields or {})
    try:
        audit_record_alone(
            actor=actor,
            action="gate.checked",
            agent_slug=agent_slug[:64],
            data={"decision": result.decision, "reasons": [code], "requested_digest": None},
        )
    except Exception:
        logger.exception("gate check could not be audited for %s", agent_slug)
        result.deny("audit_unavailable", "The decision could not be recorded.")
    return result
