"""Who may decide a sign-off (docs/design.md, rules 2 and 3)."""

from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from guardian.models import UserObjectPermission

from agents.models import Agent
from agents.permissions import ALLOWED, Check, is_owner, review_permission
from signoffs.models import Decision, Dimension, SignOff

__all__ = ["assigned_reviewers_exist", "can_decide", "may_review", "review_permission"]


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


def package_decisions(package):
    """Return the decisions the package stands on: its own and those its sign-offs carry over."""
    carried = SignOff.objects.filter(package=package, carried_over_from__isnull=False).values(
        "carried_over_from"
    )
    return Decision.objects.filter(Q(signoff__package=package) | Q(signoff__in=carried))


def can_decide(user, signoff) -> Check:
    """Return whether the user may record a decision on this sign-off, and if not, why.

    Only the dimension's reviewer group decides it; where the agent has reviewers
    assigned for the dimension, only they do. The submitter and everyone who owned
    the agent from the package's submission on (the owners recorded on the package
    and the current ones) never decide it; one person decides at most one dimension
    of a package, and once; a decision carried over from an earlier version counts.
    """
    package = signoff.package
    agent = package.agent
    dimension = signoff.dimension
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
    mine = package_decisions(package).filter(reviewer=user)
    earlier = set(mine.values_list("signoff__dimension", flat=True))
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
    if package_decisions(package).filter(reviewer=user).exists():
        return True
    return any(can_decide(user, signoff) for signoff in package.signoffs.all())
