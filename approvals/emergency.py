"""Emergency release: a package ships before its full review ends, inside a time box.

An owner asks with a reason; one security and one PAM reviewer approve (never
the requester, and two different people, under the reviewer rules of
`signoffs.permissions`). From the second approval the gate allows the package
for EMERGENCY_APPROVAL_HOURS while its full four-dimension review runs. The
full review's approval concludes the emergency; a rejection, a request for
changes, a newer version or the box ending first closes it, and the gate denies.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from agents.membership import actor_user_lock
from agents.permissions import can_edit
from agents.services import refuse_retired
from approvals.emergency_state import EMERGENCY_EXPIRED_REASON, emergency_close
from approvals.locks import package_lock
from approvals.models import (
    EMERGENCY_DIMENSIONS,
    EMERGENCY_TRANSITIONS,
    ApprovalPackage,
    EmergencyApproval,
    EmergencyState,
    PackageState,
)
from approvals.recertification import JobRun
from approvals.services import package_submit
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, InvalidTransition, NotFound, NotPermitted
from config.reasons import reason_checked
from config.times import whole_second
from outbox.services import notify
from signoffs.permissions import emergency_standing

logger = logging.getLogger(__name__)

# The event of one dimension's approval: the moment the eligibility evidence reads it at.
EMERGENCY_APPROVED = "emergency.approved"


def emergency_hours() -> int:
    return settings.COUNTERSIGN["EMERGENCY_APPROVAL_HOURS"]


def emergency_summary(emergency: EmergencyApproval) -> dict:
    return {
        "state": emergency.state,
        "ends_at": emergency.ends_at.isoformat() if emergency.ends_at else None,
    }


@transaction.atomic
def emergency_request(*, actor: Actor, package: ApprovalPackage, reason: str) -> EmergencyApproval:
    """Ask for an emergency approval of a package in review, or of a draft (submitted now).

    The full review opens at once (a draft is submitted); the emergency waits
    for one security and one PAM approval.
    """
    package = package_lock(package)
    agent = package.agent
    if actor.user is None or not can_edit(actor_user_lock(actor=actor), agent):
        raise NotPermitted(
            "Only the agent's owners and staff ask for an emergency approval.", code="not_owner"
        )
    reason = reason_checked(reason)
    refuse_retired(agent)
    if agent.suspended_at is not None:
        raise InvalidTransition(
            "The agent is suspended: only a full approval lifts the kill switch.",
            code="agent_suspended",
        )
    if EmergencyApproval.objects.filter(package=package).exists():
        raise InvalidTransition(
            f"An emergency approval of v{package.version} was already asked for.",
            code="emergency_exists",
        )
    if package.state == PackageState.DRAFT:
        package_submit(actor=actor, package=package)
        package = package_lock(package)
        if package.state == PackageState.APPROVED:
            # Raising rolls the submission back too: the request changes nothing.
            raise InvalidTransition(
                "This version only narrows the approved scope: submit it and it is approved "
                "at once, without an emergency.",
                code="no_emergency_needed",
            )
    if package.state != PackageState.IN_REVIEW:
        raise InvalidTransition(
            f"The package is {package.get_state_display().lower()}: only a draft or a package "
            "in review can be released in an emergency.",
            code="not_in_review",
        )
    emergency = EmergencyApproval.objects.create(
        package=package,
        agent=agent,
        reason=reason,
        requested_by=actor.user,
        requested_at=timezone.now(),
    )
    audit_record(
        actor=actor,
        action="emergency.requested",
        target=emergency,
        agent_slug=agent.slug,
        package_version=package.version,
        after={"state": emergency.state},
        data={"reason": reason, "hours": emergency_hours()},
    )
    notify("emergency.requested", package=package, data={"reason": reason})
    return emergency


@transaction.atomic
def emergency_approve(
    *, actor: Actor, package: ApprovalPackage, dimension: str
) -> EmergencyApproval:
    """Give the security or PAM approval of an emergency; the second one opens its time box."""
    package = package_lock(package)
    if dimension not in EMERGENCY_DIMENSIONS:
        raise InvalidInput(
            "An emergency is approved by security and PAM.",
            code="unknown_dimension",
            fields={"dimension": [f"Choose one of {', '.join(EMERGENCY_DIMENSIONS)}."]},
        )
    emergency = (
        EmergencyApproval.objects.select_for_update(no_key=True).filter(package=package).first()
    )
    if emergency is None:
        raise NotFound("No emergency approval was asked for this package.", code="no_emergency")
    emergency.package = package
    if actor.user is None:
        raise NotPermitted("Only people approve emergencies.", code="not_reviewer")
    standing = emergency_standing(actor_user_lock(actor=actor), emergency, dimension)
    if not standing:
        raise NotPermitted(standing.check.message, code=standing.check.code)
    # An approval counts only while it can still lead to the grant.
    if EmergencyState.ACTIVE not in EMERGENCY_TRANSITIONS[EmergencyState(emergency.state)]:
        raise InvalidTransition(
            f"The emergency approval is {emergency.get_state_display().lower()}.",
            code="emergency_closed",
        )
    actor.require_fresh_authentication()
    now = timezone.now()
    setattr(emergency, f"{dimension}_approver", actor.user)
    setattr(emergency, f"{dimension}_approved_at", now)
    emergency.save(update_fields=[f"{dimension}_approver", f"{dimension}_approved_at"])
    audit_record(
        actor=actor,
        action=EMERGENCY_APPROVED,
        target=emergency,
        agent_slug=package.agent.slug,
        package_version=package.version,
        # On what footing, as a sign-off's decision records it: the evidence's eligibility
        # reads a delegate's or a fallback reviewer's standing from here.
        data={
            "dimension": dimension,
            "basis": standing.basis,
            "on_behalf_of": standing.on_behalf_of.get_username() if standing.on_behalf_of else None,
        },
    )
    if all(emergency.approver(d) is not None for d in EMERGENCY_DIMENSIONS):
        before = emergency.state
        emergency.state = EmergencyState.ACTIVE
        emergency.granted_at = now
        emergency.ends_at = whole_second(now + timedelta(hours=emergency_hours()))
        emergency.save(update_fields=["state", "granted_at", "ends_at"])
        audit_record(
            actor=actor,
            action="emergency.granted",
            target=emergency,
            agent_slug=package.agent.slug,
            package_version=package.version,
            before={"state": before},
            after=emergency_summary(emergency),
        )
        notify(
            "emergency.granted",
            package=package,
            data={"ends_at": emergency.ends_at.isoformat()},
        )
    return emergency


def emergency_expire(*, actor: Actor, emergency_id: int) -> bool:
    """Close an emergency whose time box ended before the full review approved the package.

    Return whether anything changed (a second run, or a concluded emergency, changes nothing).
    The agent's and the package's rows are locked before the emergency's, as the services
    that conclude or end it lock them (`approvals.locks`).
    """
    with transaction.atomic():
        emergency = (
            EmergencyApproval.objects.select_related("package").filter(pk=emergency_id).first()
        )
        if emergency is None:
            return False
        package = package_lock(emergency.package)
        emergency = EmergencyApproval.objects.select_for_update(no_key=True).get(pk=emergency_id)
        emergency.package = package
        if emergency.state != EmergencyState.ACTIVE or emergency.ends_at > timezone.now():
            return False
        emergency_close(
            actor=actor,
            emergency=emergency,
            target=EmergencyState.EXPIRED,
            reason=EMERGENCY_EXPIRED_REASON,
        )
    return True


def emergencies_expire_due(*, actor: Actor) -> JobRun:
    """Expire every emergency approval past its time box, each in its own transaction."""
    run = JobRun()
    due = EmergencyApproval.objects.filter(
        state=EmergencyState.ACTIVE, ends_at__lte=timezone.now()
    ).values_list("pk", "package__agent__slug", "package__version")
    for pk, slug, version in due:
        label = f"{slug} v{version}"
        try:
            changed = emergency_expire(actor=actor, emergency_id=pk)
        except Exception:
            logger.exception("could not expire the emergency approval of %s", label)
            run.failed.append(label)
            continue
        (run.done if changed else run.skipped).append(label)
    return run
