"""Who may decide a sign-off (docs/design.md, rules 2 and 3)."""

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from guardian.models import UserObjectPermission

from agents.models import Agent
from agents.permissions import (
    ALLOWED,
    Check,
    fallback_permission,
    is_owner,
    review_permission,
)
from signoffs.deadlines import overdue_since
from signoffs.models import Absence, Decision, Dimension

__all__ = [
    "assigned_reviewers_exist",
    "can_decide",
    "decision_standing",
    "may_review",
    "review_permission",
]


def assigned_reviewers_exist(agent, dimension: str) -> bool:
    """Return whether the agent has reviewers assigned by name for this dimension."""
    return UserObjectPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(Agent),
        object_pk=str(agent.pk),
        permission__codename=review_permission(dimension),
    ).exists()


def reviewers_assigned(agent_ids) -> dict[tuple[int, str], list]:
    """Return the reviewers assigned by name, by (agent id, dimension), in one query."""
    assigned: dict[tuple[int, str], list] = {}
    codenames = {review_permission(dimension): dimension for dimension in Dimension.values}
    rows = (
        UserObjectPermission.objects.filter(
            content_type=ContentType.objects.get_for_model(Agent),
            object_pk__in=[str(pk) for pk in agent_ids],
            permission__codename__in=list(codenames),
        )
        .select_related("user", "permission")
        .order_by("user__username")
    )
    for row in rows:
        key = (int(row.object_pk), codenames[row.permission.codename])
        assigned.setdefault(key, []).append(row.user)
    return assigned


@dataclass(frozen=True)
class Standing:
    """Why a user may decide a sign-off (`basis`), or the refusal; falsy when refused.

    `basis` is `group` (no reviewer is assigned), `assigned`, `delegate` (deciding
    for the absent reviewer `on_behalf_of`) or `fallback` (the sign-off is overdue).
    """

    check: Check
    basis: str = ""
    on_behalf_of: object = None

    def __bool__(self) -> bool:
        return bool(self.check)


def _assigned_ids(signoff) -> list[int]:
    """Return the ids of the reviewers the sign-off waits for; empty when any member may."""
    if signoff.assigned_to_id is not None:
        return [signoff.assigned_to_id]
    return list(
        UserObjectPermission.objects.filter(
            content_type=ContentType.objects.get_for_model(Agent),
            object_pk=str(signoff.package.agent_id),
            permission__codename=review_permission(signoff.dimension),
        ).values_list("user_id", flat=True)
    )


def _assignment(user, signoff, now) -> Standing:
    """Return on what footing the user decides the sign-off among its assigned reviewers."""
    dimension = signoff.dimension
    agent = signoff.package.agent
    assigned = _assigned_ids(signoff)
    if not assigned:
        return Standing(ALLOWED, "group")
    if user.pk in assigned or (signoff.assigned_to_id is None and user.is_superuser):
        return Standing(ALLOWED, "assigned")
    absence = (
        Absence.objects.filter(
            delegate=user,
            dimension=dimension,
            reviewer_id__in=assigned,
            starts_at__lte=now,
            ends_at__gt=now,
        )
        .exclude(reviewer__decisions__signoff=signoff)
        .select_related("reviewer")
        .order_by("reviewer__username")
        .first()
    )
    if absence is not None:
        return Standing(ALLOWED, "delegate", absence.reviewer)
    due = overdue_since(signoff)
    if (
        due is not None
        and due <= now
        and user.has_perm(f"agents.{fallback_permission(dimension)}", agent)
    ):
        return Standing(ALLOWED, "fallback")
    who = "another reviewer" if signoff.assigned_to_id else "other reviewers"
    return Standing(
        Check(False, "not_assigned", f"This {dimension} sign-off is assigned to {who}.")
    )


def decision_standing(user, signoff, now=None) -> Standing:
    """Return whether the user may record a decision on this sign-off, on what footing, or why not.

    Only the dimension's reviewer group decides it. Where staff reassigned it, only
    that reviewer does; else where the agent has reviewers assigned for the
    dimension, only they do. In their place decide the delegate of an assigned
    reviewer during that reviewer's absence window (on their behalf), and the
    agent's fallback reviewers of the dimension once the sign-off is overdue.
    Whoever decides, the submitter and everyone who owned the agent from the
    package's submission on (the owners recorded on the package and the current
    ones) never decide it; one person decides at most one dimension of a
    package, and once.
    """
    package = signoff.package
    agent = package.agent
    dimension = signoff.dimension
    if not user.is_authenticated or not user.is_active:
        return Standing(Check(False, "not_authenticated", "Sign in first."))
    if not user.groups.filter(name=dimension).exists():
        return Standing(
            Check(
                False,
                "not_reviewer",
                f"Only members of the {dimension} reviewer group decide it.",
            )
        )
    standing = _assignment(user, signoff, now or timezone.now())
    if not standing:
        return standing
    if package.submitted_by_id == user.pk or package.created_by_id == user.pk:
        return Standing(
            Check(False, "self_review", "You submitted this package; someone else must decide.")
        )
    if is_owner(user, agent) or package.owners_in_review.filter(pk=user.pk).exists():
        return Standing(
            Check(
                False,
                "owner_review",
                "Whoever owned the agent since this package's submission never signs it off.",
            )
        )
    earlier = Decision.objects.filter(signoff__package=package, reviewer=user).values_list(
        "signoff__dimension", flat=True
    )
    earlier = set(earlier)
    if dimension in earlier:
        return Standing(Check(False, "already_decided", "You already decided this sign-off."))
    if earlier:
        return Standing(
            Check(
                False,
                "other_dimension",
                f"You decided the {', '.join(sorted(earlier))} sign-off of this package already.",
            )
        )
    return standing


def can_decide(user, signoff) -> Check:
    """Return whether the user may record a decision on this sign-off, and if not, why.

    The rule is `decision_standing`'s.
    """
    return decision_standing(user, signoff).check


def may_review(user, package) -> bool:
    """Return whether the user decided, or may decide, a sign-off of the package.

    Making such a user an owner would change who may review the package.
    """
    if Decision.objects.filter(signoff__package=package, reviewer=user).exists():
        return True
    return any(can_decide(user, signoff) for signoff in package.signoffs.all())
