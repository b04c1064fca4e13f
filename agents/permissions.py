"""Who may do what to an agent. Services enforce these; templates only show or hide."""

from dataclasses import dataclass

from config.roles import REGISTER_GROUPS, REVIEWER_GROUPS, SEE_EVERY_AGENT_GROUPS, Group
from tokens.services import agents_bindable

# Groups whose members may pull any agent's kill switch.
SUSPEND_GROUPS = (Group.SECURITY, Group.PAM)
# The object permission that lets one user pull one agent's kill switch.
SUSPEND_PERMISSION = "suspend_agent"


def review_permission(dimension: str) -> str:
    """Return the codename of the object permission assigning a reviewer of the dimension."""
    return f"review_{dimension}"


def fallback_permission(dimension: str) -> str:
    """Return the codename of the object permission naming a fallback reviewer of the dimension.

    A fallback reviewer takes a sign-off over once it waited past the review target.
    """
    return f"fallback_{dimension}"


def _dimension_named(group: Group) -> str:
    """Return the dimension of a reviewer group as a sentence names it: "IAM", "security"."""
    name = group.label.removesuffix(" reviewers")
    return name if name.isupper() else name.lower()


# The object permissions of an agent as Django stores them (`Agent.Meta.permissions`).
AGENT_PERMISSIONS = [
    *(
        (review_permission(str(g)), f"May decide the {_dimension_named(g)} sign-off of this agent")
        for g in REVIEWER_GROUPS
    ),
    (SUSPEND_PERMISSION, "May pull the kill switch of this agent"),
    *(
        (
            fallback_permission(str(g)),
            f"Takes the overdue {_dimension_named(g)} sign-off of this agent over",
        )
        for g in REVIEWER_GROUPS
    ),
]
# The object permissions staff assign per agent, reviewers first, each with its name above
# (what it lets its holder do), which the pages show.
_NAMES = dict(AGENT_PERMISSIONS)
ASSIGNABLE_PERMISSIONS = {
    codename: _NAMES[codename]
    for codename in (
        *(review_permission(str(g)) for g in REVIEWER_GROUPS),
        *(fallback_permission(str(g)) for g in REVIEWER_GROUPS),
        SUSPEND_PERMISSION,
    )
}


def permission_dimension(codename: str) -> str | None:
    """Return the dimension a review or fallback permission assigns, or None for another one."""
    for prefix in ("review_", "fallback_"):
        dimension = codename.removeprefix(prefix)
        if codename != dimension and dimension in REVIEWER_GROUPS:
            return dimension
    return None


@dataclass(frozen=True)
class Check:
    """The answer of a `can_*` function: falsy when refused, with a code and a reason."""

    allowed: bool
    code: str = ""
    message: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Check(True)


def in_groups(user, names) -> bool:
    return user.groups.filter(name__in=list(names)).exists()


def sees_every_agent(user) -> bool:
    """Tell whether the signed-in user sees every agent: staff, reviewers, compliance officers."""
    return user.is_staff or in_groups(user, SEE_EVERY_AGENT_GROUPS)


def is_owner(user, agent) -> bool:
    return agent.owners.filter(pk=user.pk).exists()


def sees_agent(user, agent) -> bool:
    """Tell whether the user, signed in and active, may see the agent, by the one rule of
    `Agent.objects.visible_to`: staff, the groups that see every agent, its owners and the
    members of its team."""
    # The agent's own manager: agents.models imports this module.
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and type(agent).objects.visible_to(user).filter(pk=agent.pk).exists()
    )


def can_suspend(user, agent) -> Check:
    """Tell whether the user may pull the agent's kill switch: staff, security and PAM
    reviewers, and a holder of SUSPEND_PERMISSION on the agent while they may see it.

    The grant reaches no further than sight: someone taken off the agent's team, or out of
    the group that let them see it, keeps the permission row but cannot use it.
    """
    if not user.is_authenticated or not user.is_active:
        return Check(False, "not_authenticated", "Sign in first.")
    if user.is_staff or in_groups(user, SUSPEND_GROUPS):
        return ALLOWED
    if user.has_perm(f"agents.{SUSPEND_PERMISSION}", agent) and sees_agent(user, agent):
        return ALLOWED
    return Check(
        False,
        "not_permitted",
        "Only security or PAM reviewers, staff, and those granted this agent's kill switch "
        "who may see the agent may suspend it.",
    )


# Groups whose members may register agents (they become the new agent's owners).


def can_register(user) -> Check:
    if (
        user.is_authenticated
        and user.is_active
        and (user.is_staff or in_groups(user, REGISTER_GROUPS))
    ):
        return ALLOWED
    return Check(False, "not_product_owner", "Only product owners and staff register agents.")


def not_team_member(slug: str) -> Check:
    """Return the refusal of a team the user may not use, whether or not a team has the slug."""
    return Check(
        False,
        "not_team_member",
        f"You are not a member of team {slug!r}; staff administer team membership.",
    )


def can_use_team(user, team) -> Check:
    """Tell whether the user may register agents in the team or move them to it: members, staff."""
    if user.is_authenticated and (user.is_staff or team.members.filter(pk=user.pk).exists()):
        return ALLOWED
    return not_team_member(team.slug)


def can_edit(user, agent) -> Check:
    if user.is_authenticated and user.is_active and (user.is_staff or is_owner(user, agent)):
        return ALLOWED
    return Check(False, "not_owner", "Only the agent's owners and staff may change it.")


def can_report_observations(user, agent, *, bound_to_agent: bool) -> Check:
    """Tell whether the user may report what the agent used: an owner, or a token bound to it.

    A binding counts only while its user could still bind the token to the agent
    (`agents_bindable`: an owner; staff, any agent), since a token never carries
    more than its user may do: an owner taken off the agent stops reporting
    through the tokens bound while they owned it, and reports again if made an
    owner again.
    """
    if user.is_authenticated and user.is_active:
        if bound_to_agent:
            allowed = agents_bindable(user).filter(pk=agent.pk).exists()
        else:
            allowed = is_owner(user, agent)
        if allowed:
            return ALLOWED
    return Check(
        False,
        "not_owner",
        "Only the agent's owners, or a token bound to the agent whose user owns it or is "
        "staff, report its observations.",
    )


def can_administer_members(user) -> Check:
    """Tell whether the user may administer groups, teams and the reviewers of agents: staff."""
    if user.is_authenticated and user.is_active and user.is_staff:
        return ALLOWED
    return Check(
        False, "not_staff", "Only staff administer groups, teams and reviewer assignments."
    )


def can_retire(user, agent) -> Check:
    """Tell whether the user may retire the agent: its owners and staff may."""
    if user.is_authenticated and user.is_active and (user.is_staff or is_owner(user, agent)):
        return ALLOWED
    return Check(False, "not_owner", "Only the agent's owners and staff may retire it.")
