"""What a security reviewer does with a drift finding: acknowledge it, resolve it.

Drift runs (`approvals.drift`) open and resolve findings on their own; these are
the people's side, each a state change with its audit event in one transaction.
"""

from django.db import transaction

from agents.permissions import Check
from approvals.models import FINDING_TEXT_MAX_LENGTH, DriftFinding, FindingStatus
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, InvalidTransition, NotPermitted
from config.roles import Group


def can_handle_finding(user) -> Check:
    """Return whether the user may acknowledge or resolve drift findings: security or staff."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Check(False, "not_authenticated", "Sign in first.")
    if user.is_staff or user.groups.filter(name=Group.SECURITY).exists():
        return Check(True, "", "")
    return Check(False, "not_security", "Only security reviewers and staff handle drift findings.")


def _text_checked(field_name: str, text: str, *, required: bool) -> str:
    """Return the note or resolution stripped, or raise InvalidInput naming the field."""
    text = (text or "").strip()
    if required and not text:
        problem = "Say how it was resolved."
    elif len(text) > FINDING_TEXT_MAX_LENGTH:
        problem = f"At most {FINDING_TEXT_MAX_LENGTH} characters."
    else:
        return text
    raise InvalidInput(problem, fields={field_name: [problem]})


def _finding_locked(actor: Actor, finding: DriftFinding) -> DriftFinding:
    if not actor.is_system:
        check = can_handle_finding(actor.user)
        if not check:
            raise NotPermitted(check.message, code=check.code)
    return (
        DriftFinding.objects.select_for_update(of=("self",))
        .select_related("agent")
        .get(pk=finding.pk)
    )


def _finding_moved(
    actor: Actor, finding: DriftFinding, action: str, status: str, resolution: str, data: dict
) -> DriftFinding:
    """Save the finding's new status and text, and audit the change as `action`."""
    before = finding.status
    finding.status, finding.resolution = status, resolution
    finding.save(update_fields=["status", "resolution"])
    audit_record(
        actor=actor,
        action=action,
        target=finding,
        agent_slug=finding.agent.slug,
        before={"status": before},
        after={"status": status},
        data={**data, "severity": finding.severity},
    )
    return finding


@transaction.atomic
def finding_acknowledge(*, actor: Actor, finding: DriftFinding, note: str = "") -> DriftFinding:
    """Mark an open finding as seen by a person; it stays live (and a critical one still denies)."""
    note = _text_checked("note", note, required=False)
    finding = _finding_locked(actor, finding)
    if finding.status != FindingStatus.OPEN:
        raise InvalidTransition(
            f"The finding is {finding.get_status_display().lower()}, not open.",
            code="finding_not_open",
        )
    return _finding_moved(
        actor,
        finding,
        "drift.acknowledged",
        FindingStatus.ACKNOWLEDGED,
        note or finding.resolution,
        {"note": note},
    )


@transaction.atomic
def finding_resolve(*, actor: Actor, finding: DriftFinding, resolution: str) -> DriftFinding:
    """Close a live finding with a reason; the same use seen again later opens a new one."""
    resolution = _text_checked("resolution", resolution, required=True)
    finding = _finding_locked(actor, finding)
    if not finding.is_live:
        raise InvalidTransition("The finding is already resolved.", code="finding_resolved")
    return _finding_moved(
        actor,
        finding,
        "drift.resolved",
        FindingStatus.RESOLVED,
        resolution,
        {"resolution": resolution},
    )
