"""Who belongs where: a user's groups and teams, and the reviewers assigned to an agent.

Every change of membership goes through these services, whoever makes it (the
staff pages, the Django admin, management commands, sign-in through the identity
provider), and writes its audit event in the same transaction:

- `user.groups_changed`, target the user, `before`/`after` {"groups": [...]}, data
  {"added", "removed", "source"};
- `user.teams_changed`, target the user, `before`/`after` {"teams": [...]}, data
  {"added", "removed", "source"} (team slugs);
- `agent.reviewer_assigned` / `agent.reviewer_unassigned`, target the agent, data
  {"user", "user_id", "permission", "source"}; a kill-switch grant a change of groups,
  teams or flags leaves its holder unable to use, since they no longer see the agent, is
  withdrawn by that change, after its own event, as `agent.reviewer_unassigned` with
  {"reason", "cause"} too (`agents.grants`);
- `user.staff_changed`, `user.superuser_changed`, `user.active_changed`, target the
  user, `before`/`after` {flag: value}, data {"user", "source"} (`user_flags_set`); a
  deactivation's and a reactivation's also {"sessions_ended"}: the signed-in sessions
  it ended;
- `user.permissions_changed`, target the user, `before`/`after` {"permissions": [...]},
  data {"added", "removed", "source"} ("app_label.codename");
- `group.permissions_changed`, target the group, `before`/`after` {"permissions": [...]},
  data {"group", "added", "removed", "source"}: every member holds them.

A call that changes nothing records nothing. The events carry whole before/after
states so the membership at any point of the chain can be read back from them
(`agents.selectors.MembershipHistory.members_at`, `assigned_at`).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group
from django.db import models, transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from agents.grants import (
    REVIEWER_ASSIGNED,
    REVIEWER_UNASSIGNED,
    assignment_check,
    assignment_record,
    kill_switch_grants_withdraw,
    permissions_held,
)
from agents.models import Agent, Team
from agents.permissions import can_administer_members
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, NotPermitted
from config.roles import Group as Role
from tokens.services import user_tokens_lock
from tokens.sessions import BrowserSession

GROUPS_CHANGED = "user.groups_changed"
TEAMS_CHANGED = "user.teams_changed"
PERMISSIONS_CHANGED = "user.permissions_changed"
GROUP_PERMISSIONS_CHANGED = "group.permissions_changed"
# The account flags that grant or withdraw rights: staff see and write every agent, a
# superuser holds every object permission (a reviewer assignment among them), and an
# inactive user holds none.
FLAG_CHANGED = {
    "is_staff": "user.staff_changed",
    "is_superuser": "user.superuser_changed",
    "is_active": "user.active_changed",
}


class Source(models.TextChoices):
    """Where a membership change was made, as its audit event records it."""

    ADMIN = "admin", "Django admin"
    COMMAND = "command", "Management command"
    OIDC = "oidc", "Sign-in through the identity provider"
    PAGE = "page", "Staff pages"


def _administered(actor: Actor, source: str, users=(), subject=None) -> tuple[str, dict]:
    """Lock the users changed and the actor's row (`users_lock`); refuse an actor who may not
    administer membership, as the last change of their rights left them; return the source as
    recorded and the users re-read, by id.

    Staff and the system administer anyone's; at sign-in through the identity
    provider, the user signing in is the actor of the provider's mapping of them.
    """
    if source not in Source.values:
        raise ValueError(f"Unknown membership change source {source!r}.")
    signing_in = source == Source.OIDC and subject is not None and actor.user == subject
    locked = users_lock(users, actor=actor) if signing_in else staff_users_lock(users, actor=actor)
    return str(source), locked


def staff_users_lock(users, *, actor: Actor, refusal: str = "") -> dict:
    """Lock the users and the actor's row (`users_lock`); refuse an actor who is neither the
    system nor staff, as the last change of their rights left them, with `refusal` (else
    the membership rule's message); return the users re-read, by id."""
    locked = users_lock(users, actor=actor)
    if actor.is_system:
        return locked
    check = can_administer_members(
        locked[actor.user.pk] if actor.user is not None else AnonymousUser()
    )
    if not check:
        raise NotPermitted(refusal or check.message, code=check.code)
    return locked


def _administered_user(actor: Actor, source: str, user) -> tuple:
    """Return the source as recorded and the user re-read, as `_administered` locks them."""
    source, locked = _administered(actor, source, [user], user)
    return source, locked[user.pk]


def _name(item) -> str:
    # str() turns a vocabulary member (config.roles.Group) into its plain name.
    return str(item) if isinstance(item, str) else item.name


def _slug(item) -> str:
    return str(item) if isinstance(item, str) else item.slug


def user_lock(user):
    """Return the user re-read under a row lock, as the last change of their rights left them.

    Every change of a user's groups, teams, flags or permissions holds this lock
    until it commits; whoever decides from the user's rights (a sign-off, an
    emergency approval, a suspension, a registration, a drift finding) takes it too,
    after the agent's row and its package's (`approvals.locks`), and so decides from
    the rights as changed.
    The lock changes no key (FOR NO KEY UPDATE), so it does not hold up a row that
    only refers to the user, such as an absence naming them delegate.
    """
    return get_user_model().objects.select_for_update(no_key=True).get(pk=user.pk)


def actor_user_lock(*, actor: Actor):
    """Return the actor's user under `user_lock`, to decide from their rights; None for the
    system, which holds every right.

    A token's actor is confirmed (`Actor.confirm`) once the row is locked: a withdrawal
    committed meanwhile refuses the write as the token's own check does (`user_inactive`,
    `scope_not_granted`), before any rule of the caller's. The token's row is locked after
    the user's, as a withdrawal of the user's rights locks them.
    """
    if actor.is_system:
        return None
    return users_lock((), actor=actor)[actor.user.pk]


def users_lock(users, *, actor: Actor | None = None) -> dict:
    """Lock the users' rows (`user_lock`) in id order; return them re-read, by id.

    A change of several people's membership locks them all before it records the
    first change: a change of one of them holding their row waits for the audit
    chain's lock that first record takes. A person `actor` deciding the change from
    their rights has their row locked among them, once when they are one of them, and
    is confirmed as `actor_user_lock` confirms them: two people changing each other
    lock the same rows in the same order.
    """
    people = [*users, actor.user] if actor is not None and not actor.is_system else list(users)
    wanted = {user.pk: user for user in people}
    locked = {pk: user_lock(wanted[pk]) for pk in sorted(wanted)}
    if actor is not None and actor.confirm is not None:
        actor.confirm()
    return locked


def _groups_by_name(names: set[str]) -> list[Group]:
    """Return the groups of these names; the vocabulary's groups are created on first use."""
    found = {group.name: group for group in Group.objects.filter(name__in=names)}
    unknown = sorted(names - set(found) - set(Role.values))
    if unknown:
        raise InvalidInput(
            "Unknown groups.",
            code="unknown_group",
            fields={"groups": [f"No group {name!r}." for name in unknown]},
        )
    for name in sorted(names - set(found)):
        found[name] = Group.objects.get_or_create(name=name)[0]
    return list(found.values())


def _record_change(actor, action, target, key, before, after, source) -> bool:
    before, after = sorted(before), sorted(after)
    if before == after:
        return False
    named = {"group": target.name} if isinstance(target, Group) else {"user": target.get_username()}
    audit_record(
        actor=actor,
        action=action,
        target=target,
        before={key: before},
        after={key: after},
        data={
            **named,
            "added": sorted(set(after) - set(before)),
            "removed": sorted(set(before) - set(after)),
            "source": source,
        },
    )
    return True


@transaction.atomic
def user_groups_change(user, *, actor: Actor, source: str, add=(), remove=()) -> bool:
    """Add the user to the groups `add` and take them out of `remove` (names or groups).

    Names of the vocabulary (config.roles.Group) are created on first use; any
    other name must be an existing group. Return whether anything changed.
    """
    source, user = _administered_user(actor, source, user)
    before = set(user.groups.values_list("name", flat=True))
    wanted = (before | {_name(g) for g in add}) - {_name(g) for g in remove}
    return _groups_apply(actor, user, before, wanted, source)


@transaction.atomic
def user_groups_set(user, groups, *, actor: Actor, source: str) -> bool:
    """Make `groups` (names or groups) the user's groups; return whether anything changed."""
    source, user = _administered_user(actor, source, user)
    before = set(user.groups.values_list("name", flat=True))
    return _groups_apply(actor, user, before, {_name(g) for g in groups}, source)


@transaction.atomic
def user_flags_set(user, *, actor: Actor, source: str, **flags: bool):
    """Set the account flags of FLAG_CHANGED given; each change is its own event.

    A flag set to False withdraws rights: the user's token rows are locked before the
    first event (user_tokens_lock), so a write of one of the tokens under way either
    commits before it, its events first in the trail, or is refused with nothing
    written (`user_inactive`; `scope_not_granted` for staff or superuser status).
    """
    unknown = set(flags) - set(FLAG_CHANGED)
    if unknown:
        raise ValueError(f"Not account flags: {sorted(unknown)}")
    source, user = _administered_user(actor, source, user)
    changed = {flag: value for flag, value in flags.items() if getattr(user, flag) != value}
    if False in changed.values():
        # Before any event: a write of one of their tokens either commits first or is refused.
        user_tokens_lock(user)
    for flag, value in changed.items():
        setattr(user, flag, value)
    if changed:
        user.save(update_fields=list(changed))
    # Before the events: none of this call's holds the chain's lock while the rows are deleted.
    # A reactivation ends sessions too: one stored while the user was inactive (a sign-in
    # whose answer was saved just after their deactivation) was refused meanwhile and
    # would sign its browser in again now.
    ended = _sessions_end(user) if "is_active" in changed else None
    for flag, value in changed.items():
        data = {"user": user.get_username(), "source": source}
        if flag == "is_active":
            data["sessions_ended"] = ended
        audit_record(
            actor=actor,
            action=FLAG_CHANGED[flag],
            target=user,
            before={flag: not value},
            after={flag: value},
            data=data,
        )
    lost = [flag for flag in ("is_active", "is_staff") if changed.get(flag) is False]
    if lost:
        kill_switch_grants_withdraw(
            actor=actor,
            source=source,
            cause=FLAG_CHANGED[lost[0]],
            because=_FLAG_LOST[lost[0]],
            users=[user],
        )
    return user


# What taking a flag away that lets someone see agents did, as a withdrawal names it.
_FLAG_LOST = {"is_active": "deactivated", "is_staff": "no longer staff"}


def _sessions_end(user) -> int:
    """Delete the user's unexpired sessions, in one statement; return how many.

    Django answers an inactive user's session as signed out but keeps it, so
    reactivating the account would sign that browser in again. Each session names
    its user in an indexed column (tokens.sessions), so only theirs are touched; an
    expired one is left to the daily prune (identity.services.sign_ins_prune).
    """
    sessions = BrowserSession.objects.filter(user_id=user.pk, expire_date__gt=timezone.now())
    ended, _ = sessions.delete()
    return ended


@transaction.atomic
def user_permissions_change(user, *, actor: Actor, source: str, add=(), remove=()) -> bool:
    """Give the user the model permissions `add` and take away `remove`; return whether any
    changed. The user's other permissions stay as they are."""
    source, user = _administered_user(actor, source, user)
    before = {_label(p) for p in user.user_permissions.select_related("content_type")}
    user.user_permissions.add(*add)
    user.user_permissions.remove(*remove)
    after = {_label(p) for p in user.user_permissions.select_related("content_type")}
    return _record_change(actor, PERMISSIONS_CHANGED, user, "permissions", before, after, source)


@transaction.atomic
def group_permissions_set(group, permissions, *, actor: Actor, source: str) -> bool:
    """Make `permissions` the group's model permissions; return whether any changed."""
    group = Group.objects.select_for_update(no_key=True).get(pk=group.pk)
    source, _ = _administered(actor, source)
    before = {_label(p) for p in group.permissions.select_related("content_type")}
    permissions = list(permissions)
    group.permissions.set(permissions)
    after = {_label(p) for p in permissions}
    return _record_change(
        actor, GROUP_PERMISSIONS_CHANGED, group, "permissions", before, after, source
    )


def _label(permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def _groups_apply(actor, user, before: set, wanted: set, source: str) -> bool:
    if wanted == before:
        return False
    if before - wanted:
        # A group left may have granted a scope of their tokens, or reach: as for a
        # deactivation (user_flags_set), a write of one of them commits first or is refused.
        user_tokens_lock(user)
    user.groups.set(_groups_by_name(wanted))
    return _sight_change_record(actor, GROUPS_CHANGED, user, "group", before, wanted, source)


def _teams_by_slug(slugs: set[str]) -> list[Team]:
    teams = list(Team.objects.filter(slug__in=slugs))
    unknown = sorted(slugs - {team.slug for team in teams})
    if unknown:
        raise InvalidInput(
            "Unknown teams.",
            code="unknown_team",
            fields={"teams": [f"No team {slug!r}." for slug in unknown]},
        )
    return teams


@transaction.atomic
def user_teams_change(user, *, actor: Actor, source: str, add=(), remove=()) -> bool:
    """Add the user to the teams `add` and take them out of `remove` (slugs or teams).

    Return whether anything changed; the user's other teams stay as they are.
    """
    source, user = _administered_user(actor, source, user)
    before = set(user.teams.values_list("slug", flat=True))
    wanted = (before | {_slug(t) for t in add}) - {_slug(t) for t in remove}
    return _teams_apply(actor, user, before, wanted, source)


@transaction.atomic
def user_teams_set(user, teams, *, actor: Actor, source: str) -> bool:
    """Make `teams` (slugs or teams) the user's teams; return whether anything changed."""
    source, user = _administered_user(actor, source, user)
    before = set(user.teams.values_list("slug", flat=True))
    return _teams_apply(actor, user, before, {_slug(t) for t in teams}, source)


def _teams_apply(actor, user, before: set, wanted: set, source: str) -> bool:
    if wanted == before:
        return False
    user.teams.set(_teams_by_slug(wanted))
    return _sight_change_record(actor, TEAMS_CHANGED, user, "team", before, wanted, source)


# How a withdrawal says someone left a group or a team.
_LEFT = {"group": "taken out of", "team": "taken off"}


def _sight_change_record(actor, action, user, kind: str, before, wanted, source) -> bool:
    """Record a change of the user's groups or teams (`kind`), then withdraw the kill-switch
    grants it leaves them unable to use; return True."""
    _record_change(actor, action, user, f"{kind}s", before, wanted, source)
    if before - wanted:
        kill_switch_grants_withdraw(
            actor=actor,
            source=source,
            cause=action,
            because=f"{_LEFT[kind]} {_named(kind, before - wanted)}",
            users=[user],
        )
    return True


def _named(kind: str, names: set) -> str:
    """Name the groups or teams someone was taken out of: "the team x", "the teams x, y"."""
    return f"the {kind}{'s' if len(names) > 1 else ''} {', '.join(sorted(names))}"


@transaction.atomic
def team_members_change(*, actor: Actor, team: Team, source: str, add=(), remove=()) -> Team:
    """Add and remove members of a team: one `user.teams_changed` event per user changed."""
    team = Team.objects.select_for_update(no_key=True).get(pk=team.pk)
    removing = {user.pk for user in remove}
    changing = {user.pk for user in [*add, *remove]}
    # Every member changed is locked before the first change is recorded: a change of one
    # of them holding their row waits for the audit chain's lock the first record takes.
    source, users = _administered(actor, source, [*add, *remove])
    for pk, user in users.items():
        if pk not in changing:
            continue  # the actor, locked with them
        before = set(user.teams.values_list("slug", flat=True))
        if pk in removing:
            user.teams.remove(team)
        else:
            user.teams.add(team)
        after = set(user.teams.values_list("slug", flat=True))
        _record_change(actor, TEAMS_CHANGED, user, "teams", before, after, source)
    left = [user for pk, user in users.items() if pk in removing]
    if left:
        kill_switch_grants_withdraw(
            actor=actor,
            source=source,
            cause=TEAMS_CHANGED,
            because=f"{_LEFT['team']} {_named('team', {team.slug})}",
            users=left,
        )
    return team


@transaction.atomic
def team_members_set(*, actor: Actor, team: Team, members, source: str) -> Team:
    """Make `members` (users) the team's members, auditing each user whose teams change."""
    # The members replaced are read under the team's lock, as a save at the same time left them.
    team = Team.objects.select_for_update(no_key=True).get(pk=team.pk)
    current = set(team.members.all())
    wanted = set(members)
    return team_members_change(
        actor=actor, team=team, source=source, add=wanted - current, remove=current - wanted
    )


@transaction.atomic
def reviewer_assign(*, actor: Actor, agent: Agent, user, permission: str, source: str) -> bool:
    """Grant the user an object permission on the agent (`review_<dimension>` or
    `suspend_agent`); return whether it was new."""
    agent = Agent.objects.select_for_update(no_key=True).get(pk=agent.pk)
    source, locked = _administered(actor, source, [user])
    user = locked[user.pk]  # checked as the last change of their groups left them
    assignment_check(agent, user, permission)
    if permission in permissions_held(agent, user):
        return False
    assign_perm(f"agents.{permission}", user, agent)
    assignment_record(
        actor=actor,
        action=REVIEWER_ASSIGNED,
        agent=agent,
        user=user,
        permission=permission,
        source=source,
    )
    return True


@transaction.atomic
def reviewer_unassign(*, actor: Actor, agent: Agent, user, permission: str, source: str) -> bool:
    """Revoke the user's object permission on the agent; return whether they held it."""
    agent = Agent.objects.select_for_update(no_key=True).get(pk=agent.pk)
    # The holder's row too, as every write of their object permissions holds it (agents.grants).
    source, locked = _administered(actor, source, [user])
    user = locked[user.pk]
    if permission not in permissions_held(agent, user):
        return False
    remove_perm(f"agents.{permission}", user, agent)
    assignment_record(
        actor=actor,
        action=REVIEWER_UNASSIGNED,
        agent=agent,
        user=user,
        permission=permission,
        source=source,
    )
    return True
