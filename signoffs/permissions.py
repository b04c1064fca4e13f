"""Who may decide a sign-off (docs/design.md, rules 2 and 3)."""

from django.contrib.contenttypes.models import ContentType
from guardian.models import UserObjectPermission

from agents.models import Agent
from agents.permissions import ALLOWED, Check, is_owner, review_permission
from signoffs.models import Decision, Dimension

__all__ = [
    "assigned_reviewers_exist",
    "can_approve_emergency",
    "can_decide",
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


def _reviewer_refusal(user, package, dimension: str) -> Check | None:
    """Refuse a user who may not review the dimension of the package, whatever the decision.

    Only the dimension's reviewer group, and where the agent has reviewers assigned
    for it only they; never the package's creator or submitter, nor anyone who owned
    the agent since its submission.
    """
    agent = package.agent
    if not user.is_authenticated or not user.is_active:
        return Check(False, "not_authenticated", "Sign in first.")
    if not user.groups.filter(name=dimension).exists():
        return Check(
            False, "not_reviewer", f"Only members of the {dimension} reviewer group decide it."
        )
    if assigned_reviewers_exist(agent, dimension) and not user.has_perm(
        f"agents.{review_permission(dimension)}", agent
    ):
        return Check(
            False, "not_assigned", f"Other reviewers are assigned to this agent's {dimension}."
        )
    if package.submitted_by_id == user.pk or package.created_by_id == user.pk:
        return Check(False, "self_review", "You submitted this package; someone else must decide.")
    if is_owner(user, agent) or package.owners_in_review.filter(pk=user.pk).exists():
        return Check(
            False,
            "owner_review",
            "Whoever owned the agent since this package's submission never signs it off.",
        )
    return None


def can_decide(user, signoff) -> Check:
    """Return whether the user may record a decision on this sign-off, and if not, why.

    Only the dimension's reviewer group decides it; where the agent has reviewers
    assigned for the dimension, only they do. The submitter and everyone who owned
    the agent from the package's submission on (the owners recorded on the package
    and the current ones) never decide it; one person decides at most one dimension
    of a package, and once.
    """
    package = signoff.package
    refusal = _reviewer_refusal(user, package, signoff.dimension)
    if refusal is not None:
        return refusal
    dimension = signoff.dimension
    earlier = Decision.objects.filter(signoff__package=package, reviewer=user).values_list(
        "signoff__dimension", flat=True
    )
    earlier = set(earlier)
    if dimension in earlier:
        return Check(False, "already_decided", "You already decided this sign-off.")
    if earlier:
        return Check(
            False,
            "other_dimension",
            f"You decided the {', '.join(sorted(earlier))} sign-off of this package already.",
        )
    return ALLOWED


def may_review(user, package) -> bool:
    """Return whether the user decided, or may decide, a sign-off of the package.

    Making such a user an owner would change who may review the package.
    """
    if Decision.objects.filter(signoff__package=package, reviewer=user).exists():
        return True
    return any(can_decide(user, signoff) for signoff in package.signoffs.all())


def can_approve_emergency(user, emergency, dimension: str) -> Check:
    """Return whether the user may give the emergency approval of this dimension, and if not, why.

    The reviewer rules of `can_decide` for the dimension apply to the emergency's
    package; the requester never approves it, and one person gives at most one of
    its approvals.
    """
    package = emergency.package
    refusal = _reviewer_refusal(user, package, dimension)
    if refusal is not None:
        return refusal
    if emergency.requested_by_id == user.pk:
        return Check(False, "self_review", "You asked for this emergency approval.")
    approvers = {
        dim: getattr(emergency, f"{dim}_approver_id") for dim in (Dimension.SECURITY, Dimension.PAM)
    }
    if approvers[dimension] is not None:
        return Check(False, "already_decided", f"The {dimension} approval is already given.")
    if user.pk in approvers.values():
        return Check(
            False, "other_dimension", "You gave the other approval of this emergency already."
        )
    return ALLOWED
