"""What the queue and the package page say about delegation, fallback and reassignment, and
what staff see of the reviews and agents that people who left still hold."""

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from guardian.models import UserObjectPermission

from agents.models import Agent
from agents.permissions import fallback_permission
from agents.selectors import agents_without_active_owner
from approvals.models import PackageState
from approvals.selectors import signoffs_left_behind
from config.ordering import ranked
from signoffs.absence import absences_covered, absences_left_behind
from signoffs.models import Dimension, SignOff, SignOffState
from signoffs.permissions import author_refusal, reviewers_assigned
from signoffs.sla import overdue_since


def _fallbacks_of(user, agent_ids) -> set[tuple[int, str]]:
    codenames = {fallback_permission(dimension): dimension for dimension in Dimension.values}
    rows = UserObjectPermission.objects.filter(
        user=user,
        content_type=ContentType.objects.get_for_model(Agent),
        object_pk__in=[str(pk) for pk in agent_ids],
        permission__codename__in=list(codenames),
    ).values_list("object_pk", "permission__codename")
    return {(int(pk), codenames[codename]) for pk, codename in rows}


def queue_notes(user, signoffs, now=None) -> None:
    """Give each queued sign-off its `notes`: on whose behalf, or as fallback, the user decides.

    Three queries whatever the number of sign-offs, none for an empty queue; and,
    for each sign-off the user would decide on an absent reviewer's behalf, those
    that ask whether that reviewer may decide its package (`author_refusal`).
    """
    if not signoffs:
        return
    now = now or timezone.now()
    covered = {
        (absence.reviewer_id, absence.dimension): absence.reviewer
        for absence in absences_covered(user, now).select_related("reviewer")
    }
    agent_ids = {signoff.package.agent_id for signoff in signoffs}
    assigned = reviewers_assigned(agent_ids)
    fallbacks = _fallbacks_of(user, agent_ids)
    for signoff in signoffs:
        key = (signoff.package.agent_id, signoff.dimension)
        notes = []
        if signoff.assigned_to_id == user.pk:
            notes.append("reassigned to you")
        waiting = (
            [signoff.assigned_to_id]
            if signoff.assigned_to_id
            else [reviewer.pk for reviewer in assigned.get(key, [])]
        )
        notes += [
            f"on behalf of {covered[(reviewer, signoff.dimension)].get_username()}"
            for reviewer in waiting
            if (reviewer, signoff.dimension) in covered
            and author_refusal(covered[(reviewer, signoff.dimension)], signoff.package) is None
        ]
        due = overdue_since(signoff)
        if key in fallbacks and due is not None and due <= now:
            notes.append(f"fallback: overdue since {due:%Y-%m-%d}")
        signoff.notes = notes


def pending_signoffs(agent) -> list:
    """Return the pending sign-offs of the agent's package in review, each with `waiting_for`
    (the users named; none when any member may decide) and `overdue_since` (None while
    within the target)."""
    signoffs = list(
        SignOff.objects.filter(
            package__agent=agent,
            package__state=PackageState.IN_REVIEW,
            state=SignOffState.PENDING,
        )
        .select_related("package", "assigned_to")
        .order_by("package__version", ranked(Dimension, "dimension"))
    )
    assigned = reviewers_assigned([agent.pk])
    now = timezone.now()
    for signoff in signoffs:
        signoff.waiting_for = _named(signoff, assigned)
        due = overdue_since(signoff)
        signoff.overdue_since = due if due is not None and due <= now else None
    return signoffs


def _named(signoff, assigned) -> list:
    """Return the reviewers a pending sign-off waits for by name; none when any member may.

    `assigned` is `reviewers_assigned` of the sign-off's agent.
    """
    if signoff.assigned_to_id:
        return [signoff.assigned_to]
    return assigned.get((signoff.package.agent_id, signoff.dimension), [])


def _why_not(user, dimension: str) -> str:
    """Say why a reviewer named for the dimension no longer decides it."""
    if not user.is_active:
        return "deactivated"
    return f"not in the {Dimension(dimension).label} group"


# The rows of each kind the staff page lists; its counts say how many there are in all.
LEFT_BEHIND_LISTED = 100


def left_behind_counts() -> dict[str, int]:
    """Count what people who left still hold: sign-offs, ownerless agents and absences."""
    return {
        "signoffs": signoffs_left_behind().count(),
        "agents": agents_without_active_owner().count(),
        "absences": absences_left_behind().count(),
    }


def left_behind() -> dict[str, list]:
    """Return the first LEFT_BEHIND_LISTED of each kind that `left_behind_counts` counts.

    Each sign-off carries `waiting_for`, and each absence `why`: who can no longer
    decide and why (deactivated, or no longer in the dimension's reviewer group).
    """
    signoffs = list(signoffs_left_behind()[:LEFT_BEHIND_LISTED])
    assigned = reviewers_assigned({signoff.package.agent_id for signoff in signoffs})
    for signoff in signoffs:
        signoff.waiting_for = [
            (user, _why_not(user, signoff.dimension)) for user in _named(signoff, assigned)
        ]
    absences = list(absences_left_behind()[:LEFT_BEHIND_LISTED])
    for absence in absences:
        absence.why = _why_not(absence.delegate, absence.dimension)
    agents = list(agents_without_active_owner()[:LEFT_BEHIND_LISTED])
    return {"signoffs": signoffs, "agents": agents, "absences": absences}
