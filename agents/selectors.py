"""Reads of membership: the reviewers assigned to an agent now, and who belonged where at
a given point of the audit chain."""

from bisect import bisect_left
from collections import defaultdict

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Prefetch, QuerySet
from guardian.models import UserObjectPermission

from agents.membership import (
    FLAG_CHANGED,
    GROUPS_CHANGED,
    REVIEWER_ASSIGNED,
    REVIEWER_UNASSIGNED,
)
from agents.models import Agent, AgentStatus, viewer_condition
from agents.permissions import ASSIGNABLE_PERMISSIONS, SUSPEND_PERMISSION
from audit.models import AuditEvent
from config.roles import REVIEWER_GROUPS


def _agent_permissions(agents):
    return UserObjectPermission.objects.filter(
        content_type=ContentType.objects.get_for_model(Agent),
        object_pk__in=[str(agent.pk) for agent in agents],
        permission__codename__in=list(ASSIGNABLE_PERMISSIONS),
    )


def assignments(agent: Agent) -> dict[str, list]:
    """Return, per assignable permission (in ASSIGNABLE_PERMISSIONS order), the users
    holding it on the agent, by username; one query.

    Each user carries `sees_agent`: whether they may see the agent now, which a grant of
    its kill switch needs to count (`suspend_usable`).
    """
    held = {permission: [] for permission in ASSIGNABLE_PERMISSIONS}
    sees = ExpressionWrapper(viewer_condition(agent, "user_id"), output_field=BooleanField())
    rows = _agent_permissions([agent]).select_related("user", "permission").annotate(sees=sees)
    for row in rows.order_by("user__username"):
        row.user.sees_agent = row.sees
        held[row.permission.codename].append(row.user)
    return held


def suspend_usable(held: dict[str, list]) -> list:
    """Return the holders of the agent's kill switch in `assignments(agent)` who may pull it
    now, as `can_suspend` decides for each: active, and seeing the agent."""
    return [user for user in held[SUSPEND_PERMISSION] if user.is_active and user.sees_agent]


def agents_without_active_owner() -> QuerySet:
    """Return the agents, retired ones aside, none of whose owners is active, with their owners.

    Nobody answers for such an agent: its packages, comments and tokens wait for an
    owner that staff name (a deactivated owner may stay named, never be added).
    """
    active = Agent.owners.through.objects.filter(agent=OuterRef("pk"), user__is_active=True)
    owners = get_user_model().objects.order_by("username")
    return (
        Agent.objects.exclude(status=AgentStatus.RETIRED)
        .filter(~Exists(active))
        .select_related("team")
        .prefetch_related(Prefetch("owners", queryset=owners))
        .order_by("slug")
    )


class MembershipHistory:
    """Who was in which reviewer group, and who was assigned to an agent, at a point of the chain.

    The rule: a user's state at event `seq` is the `after` of their last recorded
    change before `seq`; failing that, the `before` of their first recorded change
    after it; failing that, their state now (no change of theirs was ever recorded).
    Each event carries the whole before/after state, so a user's answer rests on
    one event (its seq is returned as the basis), or on the present state.

    Whether an account was active at a point reads the same way from its
    `user.active_changed` events (`inactive_at`).

    Limits: it is exact when every change since the installation began recording
    them went through `agents.membership` (every path of the application does);
    a change made beneath the application (SQL, a shell calling `groups.add` or
    saving `is_active`) is not seen, and nor is a user's deletion.
    """

    def __init__(self, agent: Agent):
        self.agent = agent
        self._groups = defaultdict(list)  # user id -> [(seq, before, after)]
        events = AuditEvent.objects.filter(action=GROUPS_CHANGED).order_by("seq")
        for seq, target, before, after in events.values_list("seq", "target_id", "before", "after"):
            self._groups[int(target)].append(
                (seq, set(before.get("groups", [])), set(after.get("groups", [])))
            )
        self._assigned = defaultdict(list)  # (user id, permission) -> [(seq, assigned)]
        self._names = {}
        events = AuditEvent.objects.filter(
            agent_slug=agent.slug, action__in=[REVIEWER_ASSIGNED, REVIEWER_UNASSIGNED]
        ).order_by("seq")
        for seq, action, data in events.values_list("seq", "action", "data"):
            key = (int(data["user_id"]), data["permission"])
            self._assigned[key].append((seq, action == REVIEWER_ASSIGNED))
            self._names[key[0]] = data["user"]
        memberships = get_user_model().groups.through.objects.filter(
            group__name__in=list(REVIEWER_GROUPS)
        )
        self._groups_now = defaultdict(set)
        for user_id, name in memberships.values_list("user_id", "group__name"):
            self._groups_now[user_id].add(name)
        self._assigned_now = set(
            _agent_permissions([agent]).values_list("user_id", "permission__codename")
        )
        self._active = defaultdict(list)  # user id -> [(seq, active after)]
        events = AuditEvent.objects.filter(action=FLAG_CHANGED["is_active"]).order_by("seq")
        for seq, target, after in events.values_list("seq", "target_id", "after"):
            self._active[int(target)].append((seq, bool(after.get("is_active"))))
        users = get_user_model().objects.filter(
            pk__in=set(self._groups) | set(self._groups_now) | {k[0] for k in self._assigned}
        )
        self.superusers, self._inactive_now = set(), set()
        rows = users.values_list("pk", "username", "is_superuser", "is_active")
        for pk, username, is_superuser, is_active in rows:
            self._names[pk] = username
            if is_superuser:
                self.superusers.add(pk)
            if not is_active:
                self._inactive_now.add(pk)

    def username(self, user_id: int) -> str:
        return self._names.get(user_id, f"user #{user_id}")

    def groups_at(self, user_id: int, seq: int) -> tuple[set[str], int | None]:
        """Return the user's groups at event `seq` and the seq of the event that says so."""
        changes = self._groups.get(user_id, [])
        index = bisect_left([change[0] for change in changes], seq)
        if index > 0:
            return changes[index - 1][2], changes[index - 1][0]
        if index < len(changes):
            return changes[index][1], changes[index][0]
        return self._groups_now.get(user_id, set()), None

    def members_at(self, group: str, seq: int) -> dict[int, int | None]:
        """Return {user id: basis seq} of the members of `group` at event `seq`."""
        members = {}
        for user_id in set(self._groups) | set(self._groups_now):
            groups, basis = self.groups_at(user_id, seq)
            if group in groups:
                members[user_id] = basis
        return members

    def inactive_at(self, user_ids, seq: int) -> dict[int, int | None]:
        """Return {user id: basis seq} of the users of `user_ids` inactive at event `seq`."""
        inactive = {}
        for user_id in user_ids:
            now = user_id not in self._inactive_now
            active, basis = _flag_at(self._active.get(user_id, []), seq, now)
            if not active:
                inactive[user_id] = basis
        return inactive

    def assigned_at(self, permission: str, seq: int) -> dict[int, int | None]:
        """Return {user id: basis seq} of the users holding `permission` on the agent at `seq`."""
        holders = {}
        users = {user_id for user_id, codename in self._assigned_now if codename == permission}
        users |= {user_id for user_id, codename in self._assigned if codename == permission}
        for user_id in users:
            changes = self._assigned.get((user_id, permission), [])
            now = (user_id, permission) in self._assigned_now
            held, basis = _flag_at(changes, seq, now)
            if held:
                holders[user_id] = basis
        return holders


def _flag_at(changes: list, seq: int, now: bool) -> tuple[bool, int | None]:
    """Return a yes/no state at event `seq` from its changes [(seq, state after)] in chain
    order, and the seq of the change that says so (None: the present state `now`)."""
    index = bisect_left([change[0] for change in changes], seq)
    if index > 0:
        return changes[index - 1][1], changes[index - 1][0]
    if index < len(changes):
        # The first recorded change after `seq` flipped the state it found.
        return not changes[index][1], changes[index][0]
    return now, None
