"""An agent's object permissions (reviewer assignments, the kill switch's grant): whom each
may be granted to, their events, and the kill-switch grant (`suspend_agent`) kept to sight.
`agents.membership.reviewer_assign` and `reviewer_unassign` grant and revoke them.

`can_suspend` counts the kill-switch grant only while its holder is active and sees the
agent, and `assignment_check` refuses it to anyone else (`cannot_see_agent`). Every
service that can take sight of an agent away from someone (a team left, a group that sees
every agent left, staff status taken away, a deactivation, the agent moved to another team
or its owners changed) calls `kill_switch_grants_withdraw` after its change and its event,
in its transaction: the grants it leaves unusable go with it, or stay if it rolls back.

A withdrawal is the revocation staff make by hand, `agent.reviewer_unassigned`, target the
agent, by the actor of the change, with data {"user", "user_id", "permission", "source",
"reason", "cause"}: `reason` says in words why the holder no longer sees the agent, `cause`
names the action of the change's own event, just before it in the chain; `source` is the
change's where it records one.

The grants' rows are written by an assignment and a revocation before their event, each
holding the agent's row and then the holder's (`agents.membership.user_lock`), and by a
withdrawal after its change's event, holding the holder's row (a change of their rights)
or the agent's (a change of its team or owners): an assignment or a revocation under way
waits for a withdrawal before it touches a grant. A withdrawal reads the holders' rights
and the agents' teams and owners after its change's event took the audit chain's lock: of
two changes that together take sight away (the agent moved to a team while its holder
leaves that team), the one taking the chain's lock second reads what the first committed,
and withdraws the grant.
"""

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from guardian.models import UserObjectPermission

from agents.models import Agent, viewer_condition
from agents.permissions import (
    ASSIGNABLE_PERMISSIONS,
    SUSPEND_PERMISSION,
    is_owner,
    permission_dimension,
    sees_agent,
)
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput
from config.roles import SEE_EVERY_AGENT_GROUPS
from config.roles import Group as Role

REVIEWER_ASSIGNED = "agent.reviewer_assigned"
REVIEWER_UNASSIGNED = "agent.reviewer_unassigned"


def assignment_check(agent: Agent, user, permission: str) -> None:
    """Refuse an assignment the rules of sign-off or of the kill switch would make
    meaningless (`can_suspend` counts the grant only for someone who sees the agent),
    naming the field."""
    if permission not in ASSIGNABLE_PERMISSIONS:
        raise InvalidInput(
            "Unknown permission.",
            code="unknown_permission",
            fields={"permission": [f"Choose one of {', '.join(ASSIGNABLE_PERMISSIONS)}."]},
        )
    if not user.is_active:
        message = f"{user.get_username()} is deactivated."
        raise InvalidInput(message, code="inactive_user", fields={"user": [message]})
    if permission == SUSPEND_PERMISSION and not sees_agent(user, agent):
        message = _unseen_message(agent, user)
        raise InvalidInput(message, code="cannot_see_agent", fields={"user": [message]})
    dimension = permission_dimension(permission)
    if dimension is None:
        return
    if not user.groups.filter(name=dimension).exists():
        message = (
            f"{user.get_username()} is not one of the {Role(dimension).label}; only they "
            "review the dimension."
        )
        raise InvalidInput(message, code="not_reviewer", fields={"user": [message]})
    if is_owner(user, agent):
        message = f"{user.get_username()} owns this agent; owners never sign it off."
        raise InvalidInput(message, code="owner_review", fields={"user": [message]})


def _unseen_message(agent: Agent, user) -> str:
    """Say that the user cannot see the agent, so its kill switch, and what lets them."""
    groups = ", ".join(Role(group).label for group in SEE_EVERY_AGENT_GROUPS)
    team = (
        f"add them to the agent's team {agent.team.slug!r} or"
        if agent.team is not None
        else "the agent has no team: add them"
    )
    return (
        f"{user.get_username()} cannot see {agent.slug}, so could not pull its kill switch; "
        f"{team} to a group that sees every agent ({groups}) first."
    )


def permissions_held(agent: Agent, user) -> set[str]:
    """Return the codenames of the user's object permissions on the agent."""
    return set(
        UserObjectPermission.objects.filter(
            user=user,
            content_type=ContentType.objects.get_for_model(Agent),
            object_pk=str(agent.pk),
        ).values_list("permission__codename", flat=True)
    )


def assignment_record(
    *, actor: Actor, action: str, agent: Agent, user, permission: str, source: str | None, **why
) -> None:
    """Record an object permission on the agent granted to or taken from the user; `why`
    adds the reason and cause of a withdrawal."""
    data = {"user": user.get_username(), "user_id": user.pk, "permission": permission}
    if source is not None:
        data["source"] = source
    audit_record(
        actor=actor, action=action, target=agent, agent_slug=agent.slug, data={**data, **why}
    )


def _kill_switch_grants():
    return UserObjectPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(Agent),
        permission__codename=SUSPEND_PERMISSION,
    )


def kill_switch_grants_withdraw(
    *,
    actor: Actor,
    source: str | None,
    cause: str,
    because: str,
    users=None,
    agent: Agent | None = None,
) -> int:
    """Withdraw the kill-switch grants held by `users`, or on `agent`, whose holder no longer
    sees the agent, each with its event; return how many.

    The caller holds the holders' rows (a change of their rights) or the agent's (a change
    of its team or owners), has made its change (`agent` as changed) and recorded it as
    `cause`; `because` says what took sight away ("deactivated").
    """
    grants = _kill_switch_grants().select_related("user")
    if users is not None:
        grants = grants.filter(user_id__in=[user.pk for user in users])
    if agent is not None:
        grants = grants.filter(object_pk=str(agent.pk))
    by_agent: dict[str, list] = {}
    for grant in grants:
        by_agent.setdefault(grant.object_pk, []).append(grant)
    if not by_agent:
        return 0
    agents = [agent] if agent is not None else Agent.objects.filter(pk__in=list(by_agent))
    unseen = []
    # One query per agent the grants name, whatever the number of their holders.
    for held in sorted(agents, key=lambda a: a.slug):
        grants_of = by_agent[str(held.pk)]
        people = get_user_model().objects.filter(pk__in=[g.user_id for g in grants_of])
        seeing = set(
            people.filter(viewer_condition(held), is_active=True).values_list("pk", flat=True)
        )
        unseen += [(held, g) for g in grants_of if g.user_id not in seeing]
    if not unseen:
        return 0
    UserObjectPermission.objects.filter(pk__in=[grant.pk for _, grant in unseen]).delete()
    for held, grant in sorted(unseen, key=lambda pair: (pair[0].slug, pair[1].user.username)):
        assignment_record(
            actor=actor,
            action=REVIEWER_UNASSIGNED,
            agent=held,
            user=grant.user,
            permission=SUSPEND_PERMISSION,
            source=source,
            reason=f"no longer sees the agent ({because})",
            cause=cause,
        )
    return len(unseen)
