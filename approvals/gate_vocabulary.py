"""The release gate's words: its answers and the codes of its reasons, each written once.

The gate's endpoint, the decision point, policy bundles and the audit page use
them; each reason's label is what its code means, as the API documents it.
"""

from django.db import models


class GateDecision(models.TextChoices):
    """A check's answer; a policy bundle's too."""

    ALLOW = "allow", "Allow"
    DENY = "deny", "Deny"


class GateReason(models.TextChoices):
    """The code of each reason a check (or a runtime decision) gives, with what it means.

    The meanings are what the API documents; the gate's endpoint answers no other code.
    """

    UNKNOWN_AGENT = "unknown_agent", "no agent has this slug"
    AGENT_NOT_BOUND = (
        "agent_not_bound",
        "the token is bound to other agents (this one is not read)",
    )
    NO_APPROVED_PACKAGE = "no_approved_package", "no version of the agent is approved"
    SCOPE_MISMATCH = (
        "scope_mismatch",
        "the manifest widens the approved scope (`expansions` lists how), "
        "or the digest is not the approved one",
    )
    COMMITMENT_CHANGED = (
        "commitment_changed",
        "the manifest changes a commitment the reviewers approved, "
        "such as the kill switch, rollback plan, credential revocation or log attribution "
        "(`changed_fields` lists their paths)",
    )
    APPROVAL_EXPIRED = "approval_expired", "the approval is past its re-certification date"
    AGENT_SUSPENDED = "agent_suspended", "the agent's kill switch was pulled"
    AGENT_RETIRED = "agent_retired", "the agent is retired and never ships again"
    EMERGENCY_APPROVAL = (
        "emergency_approval",
        "(with allow) the scope ships on an emergency approval while its "
        "full review runs; `expires_at` is the end of its time box",
    )
    EMERGENCY_EXPIRED = (
        "emergency_expired",
        "the emergency approval of this scope ended before its full review approved it",
    )
    OPEN_CRITICAL_DRIFT = "open_critical_drift", "a critical scope-drift finding is open"
    INVALID_REQUEST = (
        "invalid_request",
        "the request is not a valid gate request (`fields` says why)",
    )
    INVALID_MANIFEST = (
        "invalid_manifest",
        "the manifest is not valid or names another agent (`fields` says why)",
    )
    INTERNAL_ERROR = "internal_error", "the gate could not decide"
    AUDIT_UNAVAILABLE = "audit_unavailable", "the decision could not be recorded"
