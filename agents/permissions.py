"""Who may do what to an agent. Services enforce these; templates only show or hide."""

from dataclasses import dataclass

from config.roles import REGISTER_GROUPS

# Groups whose members may pull any agent's kill switch.
SUSPEND_GROUPS = ("security", "pam")


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


def is_owner(user, agent) -> bool:
    return agent.owners.filter(pk=user.pk).exists()


def can_suspend(user, agent) -> Check:
    if not user.is_authenticated or not user.is_active:
        return Check(False, "not_authenticated", "Sign in first.")
    if (
        user.is_staff
        or in_groups(user, SUSPEND_GROUPS)
        or user.has_perm("agents.suspend_agent", agent)
    ):
        return ALLOWED
    return Check(False, "not_permitted", "Only security or PAM reviewers and staff may suspend.")


# Groups whose members may register agents (they become the new agent's owners).


def can_register(user) -> Check:
    if (
        user.is_authenticated
        and user.is_active
        and (user.is_staff or in_groups(user, REGISTER_GROUPS))
    ):
        return ALLOWED
    return Check(False, "not_product_owner", "Only product owners and staff register agents.")


def can_use_team(user, team) -> Check:
    """Owners register agents for, and move them into, only the teams they are members of."""
    if user.is_authenticated and (user.is_staff or team.members.filter(pk=user.pk).exists()):
        return ALLOWED
    return Check(
        False,
        "not_team_member",
        f"You are not a member of team {team.slug!r}; staff administer team membership.",
    )


def can_edit(user, agent) -> Check:
    if user.is_authenticated and (user.is_staff or is_owner(user, agent)):
        return ALLOWED
    return Check(False, "not_owner", "Only the agent's owners and staff may change it.")
