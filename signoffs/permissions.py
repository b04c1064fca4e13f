"""Who may decide a sign-off (docs/design.md, rules 2 and 3)."""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q, QuerySet
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
from config.roles import Group
from signoffs.models import Absence, Decision, Dimension, Footing, SignOff, standing_condition
from signoffs.sla import overdue_since

__all__ = [
    "author_refusal",
    "can_approve_emergency",
    "can_decide",
    "decision_standing",
    "emergency_standing",
    "may_review",
    "owner_refusal",
    "review_permission",
    "reviewers_able",
]


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


def package_decisions(package, *, at=None):
    """Return the decisions the package stands on: its own and those its sign-offs carry over.

    Carried-over ones count while the approval they come from is in force: the deciding
    service re-opens them first once it lapses (`ApprovalPackage.carries_from_lapsed`).
    One a suspension set aside counts no more; given a moment `at`, the decisions that
    stood at that moment (those set aside later included).
    """
    stands_on = Q(signoff__package=package)
    if not package.carries_from_lapsed:
        carried = SignOff.objects.filter(package=package, carried_over_from__isnull=False)
        stands_on |= Q(signoff__in=carried.values("carried_over_from"))
    standing = standing_condition()
    if at is not None:
        standing |= Q(set_aside_at__gt=at)
    return Decision.objects.filter(stands_on & standing)


@dataclass(frozen=True)
class Standing:
    """Why a user may decide a sign-off (`basis`), or the refusal; falsy when refused.

    `basis` is a Footing: group (no reviewer is assigned), assigned, delegate
    (deciding for the absent reviewer `on_behalf_of`) or fallback (the sign-off
    is overdue).
    """

    check: Check
    basis: str = ""
    on_behalf_of: object = None

    def __bool__(self) -> bool:
        return bool(self.check)

    @property
    def as_fallback(self) -> bool:
        return self.basis == Footing.FALLBACK


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
        return Standing(ALLOWED, Footing.GROUP)
    if user.pk in assigned or (signoff.assigned_to_id is None and user.is_superuser):
        return Standing(ALLOWED, Footing.ASSIGNED)
    absences = (
        Absence.objects.filter(
            delegate=user,
            dimension=dimension,
            reviewer_id__in=assigned,
            starts_at__lte=now,
            ends_at__gt=now,
        )
        .exclude(reviewer__in=signoff.decisions.standing().values("reviewer"))
        .select_related("reviewer")
        .order_by("reviewer__username")
    )
    # A delegate stands in only for a reviewer who could decide the package: else an
    # owner who is its assigned reviewer would name who decides in their place.
    absence = next(
        (a for a in absences if author_refusal(a.reviewer, signoff.package) is None), None
    )
    if absence is not None:
        return Standing(ALLOWED, Footing.DELEGATE, absence.reviewer)
    due = overdue_since(signoff)
    if (
        due is not None
        and due <= now
        and user.has_perm(f"agents.{fallback_permission(dimension)}", agent)
    ):
        return Standing(ALLOWED, Footing.FALLBACK)
    who = "another reviewer" if signoff.assigned_to_id else "other reviewers"
    return Standing(
        Check(False, "not_assigned", f"This {dimension} sign-off is assigned to {who}.")
    )


def _member_refusal(user, dimension: str) -> Check | None:
    """Refuse a user who is not a signed-in member of the dimension's reviewer group."""
    if not user.is_authenticated or not user.is_active:
        return Check(False, "not_authenticated", "Sign in first.")
    if not user.groups.filter(name=dimension).exists():
        return Check(False, "not_reviewer", f"Only the {Group(dimension).label} decide it.")
    return None


def reviewers_able(dimension) -> QuerySet:
    """Return the users `_member_refusal` lets decide the dimension: its group's active members.

    `dimension` may be an OuterRef, to ask it of each row of an outer query.
    """
    return get_user_model().objects.filter(is_active=True, groups__name=dimension)


def owner_refusal(user, agent, package=None) -> Check | None:
    """Refuse the agent's owners and, given one of its packages, whoever owned the agent since
    that package's submission."""
    if is_owner(user, agent) or (
        package is not None and package.owners_in_review.filter(pk=user.pk).exists()
    ):
        return Check(
            False,
            "owner_review",
            "Whoever owned the agent since this package's submission never signs it off.",
        )
    return None


def author_refusal(user, package) -> Check | None:
    """Refuse the package's creator or submitter, and whoever owned the agent since submission.

    This is who never signs the package off, nor stands behind a decision that
    does: a delegate's absent reviewer, a decision carried over into it, the
    handling of a drift finding filed under it.
    """
    if package.submitted_by_id == user.pk or package.created_by_id == user.pk:
        return Check(False, "self_review", "You submitted this package; someone else must decide.")
    return owner_refusal(user, package.agent, package)


def decision_standing(user, signoff, now=None) -> Standing:
    """Return whether the user may record a decision on this sign-off, on what footing, or why not.

    Only the dimension's reviewer group decides it. Where staff reassigned it, only
    that reviewer does; else where the agent has reviewers assigned for the
    dimension, only they do. In their place decide the delegate of an assigned
    reviewer during that reviewer's absence window (on their behalf; never for a
    reviewer whom authorship or ownership refuses, so an owner names no one), and
    the agent's fallback reviewers of the dimension once the sign-off is overdue.
    Whoever decides, the submitter and everyone who owned the agent from the
    package's submission on (the owners recorded on the package and the current
    ones) never decide it; one person decides at most one dimension of a
    package, and once; a decision carried over from an earlier version counts, one a
    suspension set aside does not (`package_decisions`).
    """
    package = signoff.package
    dimension = signoff.dimension
    refusal = _member_refusal(user, dimension)
    if refusal is not None:
        return Standing(refusal)
    standing = _assignment(user, signoff, now or timezone.now())
    if not standing:
        return standing
    refusal = author_refusal(user, package)
    if refusal is not None:
        return Standing(refusal)
    mine = package_decisions(package).filter(reviewer=user)
    earlier = set(mine.values_list("signoff__dimension", flat=True))
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
    if package_decisions(package).filter(reviewer=user).exists():
        return True
    return any(can_decide(user, signoff) for signoff in package.signoffs.all())


def emergency_standing(user, emergency, dimension: str) -> Standing:
    """Return whether the user may give the emergency approval of this dimension, on what
    footing, or why not.

    The reviewer rules of `decision_standing` apply to the package's sign-off of the
    dimension: its group; where staff reassigned the sign-off, that reviewer, else where
    the agent has reviewers assigned for it, only they; the delegate of an absent assigned
    reviewer on their behalf, and once the sign-off is overdue the agent's fallback
    reviewers; never an author or owner. The requester never approves it, and one person
    gives at most one of its approvals. An emergency approval decides no sign-off, so a
    decision of the package does not bar its reviewer from giving one.
    """
    package = emergency.package
    refusal = _member_refusal(user, dimension)
    if refusal is not None:
        return Standing(refusal)
    signoff = package.signoffs.filter(dimension=dimension).first()
    if signoff is None:
        return Standing(
            Check(False, "no_signoff", f"This version has no {dimension} sign-off to stand on.")
        )
    standing = _assignment(user, signoff, timezone.now())
    if not standing:
        return standing
    refusal = author_refusal(user, package)
    if refusal is not None:
        return Standing(refusal)
    if emergency.requested_by_id == user.pk:
        return Standing(Check(False, "self_review", "You asked for this emergency approval."))
    approvers = {
        dim: getattr(emergency, f"{dim}_approver_id") for dim in (Dimension.SECURITY, Dimension.PAM)
    }
    if approvers[dimension] is not None:
        return Standing(
            Check(False, "already_decided", f"The {dimension} approval is already given.")
        )
    if user.pk in approvers.values():
        return Standing(
            Check(
                False, "other_dimension", "You gave the other approval of this emergency already."
            )
        )
    return standing


def can_approve_emergency(user, emergency, dimension: str) -> Check:
    """Return whether the user may give the emergency approval of this dimension, and if not,
    why. The rule is `emergency_standing`'s."""
    return emergency_standing(user, emergency, dimension).check
