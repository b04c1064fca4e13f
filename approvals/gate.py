"""The release gate: may this exact scope ship? Denies whenever it cannot say yes."""

import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from agents.models import Agent
from approvals import manifest as manifests
from approvals.models import ApprovalPackage, DriftFinding, FindingStatus, PackageState, Severity
from audit.actors import Actor
from audit.services import audit_record

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


def _evaluate(agent_slug: str, manifest, digest: str | None) -> GateResult:
    result = GateResult()
    agent = Agent.objects.filter(slug=agent_slug).only("pk", "slug", "suspended_at").first()
    if agent is None:
        result.deny("unknown_agent", f"No agent {agent_slug!r} is registered.")
        return result
    if agent.suspended_at is not None:
        result.deny("agent_suspended", "The agent's kill switch was pulled; it may not ship.")
    package = (
        ApprovalPackage.objects.filter(agent_id=agent.pk, approved_at__isnull=False)
        .only("version", "state", "digest", "expires_at", "manifest")
        .order_by("-version")
        .first()
    )
    now = timezone.now()
    if package is None:
        result.deny("no_approved_package", "No version of this agent was ever approved.")
    elif package.state == PackageState.EXPIRED or (
        package.state == PackageState.APPROVED and package.expires_at <= now
    ):
        result.deny(
            "approval_expired",
            f"The approval of v{package.version} expired on {package.expires_at:%Y-%m-%d}.",
        )
    elif package.state != PackageState.APPROVED:
        result.deny(
            "no_approved_package",
            f"The last approved version v{package.version} is {package.state}.",
        )
    if package is not None:
        result.package_version = package.version
        result.digest = package.digest
        result.expires_at = package.expires_at.isoformat() if package.expires_at else None
        _compare_scope(result, package, manifest, digest)
    if DriftFinding.objects.filter(
        agent_id=agent.pk,
        severity=Severity.CRITICAL,
        status__in=[FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED],
    ).exists():
        result.deny("open_critical_drift", "A critical scope-drift finding is open.")
    if not result.reasons:
        result.decision = ALLOW
    return result


def _compare_scope(result: GateResult, package, manifest, digest: str | None) -> None:
    if manifest is not None:
        if manifests.manifest_digest(manifest) == package.digest:
            return
        diff = manifests.diff_manifests(package.manifest, manifest)
        if diff.is_expansion:
            result.deny(
                "scope_mismatch",
                f"The manifest expands the scope approved in v{package.version}.",
                expansions=[change.as_dict() for change in diff.expansions],
            )
    elif digest != package.digest:
        result.deny(
            "scope_mismatch",
            f"The digest is not the one approved in v{package.version}.",
            expansions=[],
        )


def gate_check(
    *, actor: Actor, agent_slug: str, manifest: dict | None = None, digest: str | None = None
) -> GateResult:
    """Answer whether the agent may ship this manifest (or digest); audit every answer.

    `manifest` must already be validated and normalized. Any failure while
    deciding, or while recording the decision, answers deny.
    """
    try:
        result = _evaluate(agent_slug, manifest, digest)
    except Exception:
        logger.exception("gate check failed for %s", agent_slug)
        result = GateResult()
        result.deny("internal_error", "The gate could not decide, so it denies.")
    try:
        with transaction.atomic():
            audit_record(
                actor=actor,
                action="gate.checked",
                agent_slug=agent_slug[:64],
                package_version=result.package_version,
                data={
                    "decision": result.decision,
                    "reasons": [r["code"] for r in result.reasons],
                    "requested_digest": digest
                    or (manifests.manifest_digest(manifest) if manifest else None),
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
