"""Closing an emergency approval when its package's review ends.

The workflow's services (approval, rejection, supersession, revocation) and the
emergency services both close emergencies, so the closing lives here, below both.
"""

from django.utils import timezone

from approvals.models import (
    EMERGENCY_TRANSITIONS,
    ApprovalPackage,
    EmergencyApproval,
    EmergencyState,
)
from audit.actors import Actor
from audit.services import audit_record
from outbox.services import notify

# Why an emergency closes as expired: its box ended before the full review approved it.
EMERGENCY_EXPIRED_REASON = "The time box ended before the full review approved the package."


def emergency_close(
    *, actor: Actor, emergency: EmergencyApproval, target: EmergencyState, reason: str
) -> None:
    """Move a locked emergency approval to a closed state and audit it, inside the caller's
    transaction.

    An active one whose box has ended closes as expired, whatever closes it: the gate
    denied the version from that moment, whether or not the emergencies job marked it.
    """
    before = EmergencyState(emergency.state)
    if emergency.state_shown != before:
        target, reason = EmergencyState.EXPIRED, EMERGENCY_EXPIRED_REASON
    if target not in EMERGENCY_TRANSITIONS[before]:
        return
    emergency.state = target
    emergency.closed_at = timezone.now()
    emergency.state_reason = reason
    emergency.save(update_fields=["state", "closed_at", "state_reason"])
    package = emergency.package
    audit_record(
        actor=actor,
        action=f"emergency.{target.value}",
        target=emergency,
        agent_slug=package.agent.slug,
        package_version=package.version,
        before={"state": before},
        after={"state": target},
        data={"reason": reason},
    )
    if before == EmergencyState.ACTIVE and target != EmergencyState.CONCLUDED:
        # The gate denies the package from now on: whoever ships or reviews it must know.
        notify(
            f"emergency.{target.value}",
            package=package,
            data={"reason": reason, "ends_at": emergency.ends_at.isoformat()},
        )


def _open_emergency(package: ApprovalPackage) -> EmergencyApproval | None:
    emergency = (
        EmergencyApproval.objects.select_for_update(no_key=True)
        .filter(package=package, state__in=(EmergencyState.REQUESTED, EmergencyState.ACTIVE))
        .first()
    )
    if emergency is not None:
        emergency.package = package
    return emergency


def emergency_conclude(*, actor: Actor, package: ApprovalPackage) -> None:
    """Close the package's emergency approval once its full review approved the package."""
    emergency = _open_emergency(package)
    if emergency is None:
        return
    if emergency.state == EmergencyState.ACTIVE:
        emergency_close(
            actor=actor,
            emergency=emergency,
            target=EmergencyState.CONCLUDED,
            reason="The full review approved the package.",
        )
    else:
        emergency_close(
            actor=actor,
            emergency=emergency,
            target=EmergencyState.ENDED,
            reason="The full review approved the package before the emergency approval.",
        )


def emergency_end(*, actor: Actor, package: ApprovalPackage, reason: str) -> None:
    """End the package's emergency approval when the package leaves review unapproved."""
    emergency = _open_emergency(package)
    if emergency is not None:
        emergency_close(
            actor=actor, emergency=emergency, target=EmergencyState.ENDED, reason=reason
        )
