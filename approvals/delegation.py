"""Who a pending sign-off waits for, and its reassignment by staff.

A sign-off waits for its assigned reviewers (those staff reassigned it to, else
the agent's reviewers assigned for the dimension, else the whole reviewer
group) and, during an assigned reviewer's absence, their delegate. Past the
review target (`signoffs.deadlines.review_sla`) the agent's fallback reviewers
of the dimension may take it over. Whether one person may decide it is always
`signoffs.permissions.decision_standing`.

`signoff.reassigned`, target the sign-off, `before`/`after` {"assigned_to"},
data {"dimension", "user", "reason"}.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from agents.membership import users_lock
from agents.permissions import can_administer_members, fallback_permission
from approvals.locks import package_lock
from approvals.models import ApprovalPackage, PackageState
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, InvalidTransition, NotFound, NotPermitted
from config.reasons import reason_checked
from outbox.services import notify
from signoffs.models import Dimension, Footing, SignOff, SignOffState
from signoffs.permissions import decision_standing

REASSIGNED = "signoff.reassigned"
# The footings on which a reviewer is one the sign-off waits for (not a fallback).
WAITING_BASES = (Footing.GROUP, Footing.ASSIGNED, Footing.DELEGATE)


def _members(signoff: SignOff):
    return (
        get_user_model()
        .objects.filter(groups__name=signoff.dimension, is_active=True)
        .distinct()
        .order_by("username")
    )


def signoff_waiting_for(signoff: SignOff, now=None) -> list:
    """Return the people the pending sign-off waits for, delegates of absent reviewers included."""
    now = now or timezone.now()
    return [
        user
        for user in _members(signoff)
        if (standing := decision_standing(user, signoff, now)) and standing.basis in WAITING_BASES
    ]


def signoff_fallbacks(signoff: SignOff) -> list:
    """Return the agent's fallback reviewers of the dimension who may take the sign-off over."""
    members = _members(signoff).filter(
        userobjectpermission__object_pk=str(signoff.package.agent_id),
        userobjectpermission__permission__codename=fallback_permission(signoff.dimension),
    )
    # Asked as of the end of time, so that the fallback's own rights count, overdue or not.
    far = signoff.package.submitted_at + timedelta(days=3650)
    return [user for user in members if decision_standing(user, signoff, far)]


@transaction.atomic
def signoff_reassign(
    *, actor: Actor, package: ApprovalPackage, dimension: str, user, reason: str
) -> SignOff:
    """Make the user the one reviewer a pending sign-off waits for (staff only).

    Unlike the membership rules (`agents.membership.staff_users_lock`), the system is
    refused too: a reassignment is a staff judgement with its reason, made on the agent's
    reviewers page or through the API, and no job or command makes one.

    The new reviewer must be able to decide it under every rule of who may
    decide; the refusal names the rule.
    """
    if dimension not in Dimension.values:
        raise NotFound(f"No sign-off dimension {dimension!r}.", code="unknown_dimension")
    reason = reason_checked(reason)
    package = package_lock(package)
    # The actor's rights and the reviewer's as the last change left them, their rows locked
    # in id order after the package's and before the sign-off's, as a decision locks them.
    people = users_lock([user], actor=actor)
    if actor.user is None or not can_administer_members(people[actor.user.pk]):
        raise NotPermitted("Only staff reassign sign-offs.", code="not_staff")
    user = people[user.pk]
    if package.state != PackageState.IN_REVIEW:
        raise InvalidTransition(
            f"The package is {package.get_state_display().lower()}, not in review.",
            code="not_in_review",
        )
    signoff = (
        package.signoffs.select_for_update(no_key=True, of=("self",))
        .select_related("assigned_to")
        .get(dimension=dimension)
    )
    signoff.package = package
    if signoff.state != SignOffState.PENDING:
        raise InvalidTransition("This sign-off is already decided.", code="signoff_closed")
    before = signoff.assigned_to.get_username() if signoff.assigned_to_id else None
    signoff.assigned_to = user
    standing = decision_standing(user, signoff)
    if not standing or standing.basis != Footing.ASSIGNED:
        message = f"{user.get_username()} cannot decide it: {standing.check.message}"
        raise InvalidInput(message, code=standing.check.code, fields={"user": [message]})
    signoff.save(update_fields=["assigned_to", "updated_at"])
    audit_record(
        actor=actor,
        action=REASSIGNED,
        target=signoff,
        agent_slug=package.agent.slug,
        package_version=package.version,
        before={"assigned_to": before},
        after={"assigned_to": user.get_username()},
        data={"dimension": dimension, "user": user.get_username(), "reason": reason},
    )
    notify(
        "signoff.reassigned",
        package=package,
        data={
            "dimension": dimension,
            "reviewer": user.get_username(),
            "reason": reason,
            "recipients": [user.email] if user.email else [],
        },
    )
    return signoff
