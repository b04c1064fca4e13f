"""A change that takes sight of an agent away from someone holding its kill switch
(`suspend_agent`) withdraws the grant in its own transaction, with one
`agent.reviewer_unassigned` event per grant naming why; a holder who still sees the agent
keeps it, and a change that rolls back withdraws nothing."""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.db import transaction
from guardian.shortcuts import get_perms

from agents import membership
from agents.membership import REVIEWER_UNASSIGNED, Source
from agents.permissions import SUSPEND_PERMISSION
from approvals.ownership import agent_update
from audit.actors import Actor
from audit.models import AuditEvent
from identity import services as identity
from identity.mapping import GroupMap, Rights
from tests.agents.test_kill_switch_grant import grant, reread
from tests.factories import AgentFactory, TeamFactory, UserFactory
from tests.identity.test_user_admin import (  # noqa: F401  (a fixture)
    _post_user,
    admin_client,
)

pytestmark = pytest.mark.django_db

STAFF = Actor.system("staff")


def teammate(agent):
    """A product owner on the agent's team: they see it through the team."""
    user = UserFactory(username="holder", groups=["product-owner"])
    agent.team.members.add(user)
    return user


def officer(agent):
    """A compliance officer on no team: they see every agent through the group."""
    return UserFactory(username="holder", groups=["compliance-officer"])


def former_staff(agent):
    """A staff member in no group and on no team: they see every agent as staff."""
    return UserFactory(username="holder", is_staff=True)


def owner_only(agent):
    """An owner of the agent on none of its teams: the agent is made teamless first."""
    agent.team = None
    agent.save(update_fields=["team"])
    user = UserFactory(username="holder", groups=["product-owner"])
    agent.owners.add(user)
    return user


def _moved(agent, holder):
    agent_update(actor=STAFF, agent=agent, team=TeamFactory(slug="payments"))


def _owners_changed(agent, holder):
    agent_update(actor=STAFF, agent=agent, owners=[u for u in agent.owners.all() if u != holder])


@dataclass(frozen=True)
class Path:
    """A service that takes sight of the agent away from a holder set up by `holder`."""

    holder: Callable
    change: Callable  # (agent, holder)
    cause: str  # the action of the change's own event
    source: str | None
    reason: str


TEAMS = "taken off the team customer-care"
PATHS = {
    "team members changed": Path(
        teammate,
        lambda agent, holder: membership.team_members_change(
            actor=STAFF, team=agent.team, source=Source.COMMAND, remove=[holder]
        ),
        membership.TEAMS_CHANGED,
        Source.COMMAND,
        TEAMS,
    ),
    "team members set (admin)": Path(
        teammate,
        lambda agent, holder: membership.team_members_set(
            actor=STAFF,
            team=agent.team,
            members=[u for u in agent.team.members.all() if u != holder],
            source=Source.ADMIN,
        ),
        membership.TEAMS_CHANGED,
        Source.ADMIN,
        TEAMS,
    ),
    "user's teams changed (staff page)": Path(
        teammate,
        lambda agent, holder: membership.user_teams_change(
            holder, actor=STAFF, source=Source.PAGE, remove=[agent.team]
        ),
        membership.TEAMS_CHANGED,
        Source.PAGE,
        TEAMS,
    ),
    "user's teams set": Path(
        teammate,
        lambda agent, holder: membership.user_teams_set(
            holder, [], actor=STAFF, source=Source.COMMAND
        ),
        membership.TEAMS_CHANGED,
        Source.COMMAND,
        TEAMS,
    ),
    "provider's mapping of teams": Path(
        teammate,
        lambda agent, holder: identity.user_rights_apply(
            holder,
            Rights(groups=frozenset({"product-owner"})),
            GroupMap(targets={"care": frozenset({"team:customer-care"})}),
            actor=Actor.for_user(holder),
            source=Source.OIDC,
        ),
        membership.TEAMS_CHANGED,
        Source.OIDC,
        TEAMS,
    ),
    "user's groups changed": Path(
        officer,
        lambda agent, holder: membership.user_groups_change(
            holder, actor=STAFF, source=Source.PAGE, remove=["compliance-officer"]
        ),
        membership.GROUPS_CHANGED,
        Source.PAGE,
        "taken out of the group compliance-officer",
    ),
    "user's groups set": Path(
        officer,
        lambda agent, holder: membership.user_groups_set(
            holder, ["product-owner"], actor=STAFF, source=Source.COMMAND
        ),
        membership.GROUPS_CHANGED,
        Source.COMMAND,
        "taken out of the group compliance-officer",
    ),
    "provider's mapping of groups": Path(
        officer,
        lambda agent, holder: identity.user_groups_set(
            holder, [], actor=Actor.for_user(holder), source=Source.OIDC
        ),
        membership.GROUPS_CHANGED,
        Source.OIDC,
        "taken out of the group compliance-officer",
    ),
    "staff status taken away": Path(
        former_staff,
        lambda agent, holder: membership.user_flags_set(
            holder, actor=STAFF, source=Source.ADMIN, is_staff=False
        ),
        "user.staff_changed",
        Source.ADMIN,
        "no longer staff",
    ),
    "provider's mapping of staff": Path(
        former_staff,
        lambda agent, holder: identity.user_groups_set(
            holder, [], actor=Actor.for_user(holder), source=Source.OIDC, staff=False
        ),
        "user.staff_changed",
        Source.OIDC,
        "no longer staff",
    ),
    "deactivated": Path(
        teammate,
        lambda agent, holder: membership.user_flags_set(
            holder, actor=STAFF, source=Source.ADMIN, is_active=False
        ),
        "user.active_changed",
        Source.ADMIN,
        "deactivated",
    ),
    "agent moved to another team": Path(
        teammate, _moved, "agent.updated", None, "the agent moved to the team payments"
    ),
    "agent's owners changed": Path(
        owner_only, _owners_changed, "agent.updated", None, "the agent's owners changed"
    ),
}


def _withdrawals(events) -> list:
    return [event for event in events if event.action == REVIEWER_UNASSIGNED]


@pytest.mark.parametrize("name", sorted(PATHS))
def test_the_change_withdraws_the_grant_with_its_event(name, agent, audit_since):
    path = PATHS[name]
    holder = path.holder(agent)
    grant(agent, holder)
    since = audit_since()
    path.change(agent, reread(holder))
    assert get_perms(reread(holder), agent) == []
    events = since()
    [event] = _withdrawals(events)
    assert events.index(event) == len(events) - 1  # after the change's own event
    assert [e.action for e in events if e.action == path.cause]
    # At sign-in through the identity provider, the user signing in acts on themselves.
    assert event.actor_label == ("holder" if path.source == Source.OIDC else "staff")
    assert event.target_id == str(agent.pk) and event.agent_slug == agent.slug
    expected = {
        "user": "holder",
        "user_id": holder.pk,
        "permission": SUSPEND_PERMISSION,
        "reason": f"no longer sees the agent ({path.reason})",
        "cause": path.cause,
    }
    if path.source is not None:
        expected["source"] = path.source
    assert event.data == expected


@pytest.mark.parametrize("name", sorted(PATHS))
def test_a_change_that_rolls_back_withdraws_nothing(name, agent, audit_since):
    path = PATHS[name]
    holder = path.holder(agent)
    grant(agent, holder)
    since = audit_since()
    with pytest.raises(RuntimeError), transaction.atomic():
        path.change(agent, reread(holder))
        assert get_perms(reread(holder), agent) == []
        assert _withdrawals(since())
        raise RuntimeError("a later step of the same request fails")
    assert get_perms(reread(holder), agent) == [SUSPEND_PERMISSION]
    assert since() == []


def test_a_team_left_withdraws_only_the_grants_of_agents_no_longer_seen(owner, audit_since):
    """One change of the holder's teams: the grant of the agent of the team left goes; those of
    an agent they own on that team, and of an agent of a team they stay on, stay."""
    holder = UserFactory(username="holder", groups=["product-owner"])
    care = AgentFactory(slug="care-bot", team="customer-care", owners=[owner])
    owned = AgentFactory(slug="owned-bot", team="customer-care", owners=[holder])
    other = AgentFactory(slug="pay-bot", team="payments", owners=[owner])
    other.team.members.add(holder)
    for agent in (care, owned, other):
        grant(agent, holder)
    since = audit_since()
    membership.user_teams_change(holder, actor=STAFF, source=Source.PAGE, remove=["customer-care"])
    assert [e.agent_slug for e in _withdrawals(since())] == ["care-bot"]
    holder = reread(holder)
    assert get_perms(holder, care) == []
    assert get_perms(holder, owned) == get_perms(holder, other) == [SUSPEND_PERMISSION]


def test_members_who_still_see_the_agent_keep_the_grant(agent, owner, audit_since):
    """Everyone taken off the agent's team at once: a plain teammate loses the grant; a
    compliance officer, a staff member and an owner, who see it otherwise, keep theirs."""
    team = agent.team
    plain = UserFactory(username="plain", groups=["product-owner"])
    officer_ = UserFactory(username="officer", groups=["compliance-officer"])
    staff = UserFactory(username="staffer", is_staff=True)
    people = [plain, officer_, staff, owner]
    team.members.add(*people)
    for user in people:
        grant(agent, user)
    since = audit_since()
    membership.team_members_change(actor=STAFF, team=team, source=Source.COMMAND, remove=people)
    assert [e.data["user"] for e in _withdrawals(since())] == ["plain"]
    for user in (officer_, staff, owner):
        assert get_perms(reread(user), agent) == [SUSPEND_PERMISSION], user


def test_an_agent_moved_to_a_team_its_holder_is_on_keeps_the_grant(agent, owner, audit_since):
    holder = teammate(agent)
    payments = TeamFactory(slug="payments", members=[holder, owner])
    grant(agent, holder)
    since = audit_since()
    agent_update(actor=STAFF, agent=agent, team=payments)
    assert _withdrawals(since()) == []
    assert get_perms(reread(holder), agent) == [SUSPEND_PERMISSION]


def test_a_group_left_that_gave_no_sight_withdraws_nothing(agent, audit_since):
    holder = teammate(agent)
    membership.user_groups_change(holder, actor=STAFF, source=Source.PAGE, add=["iam"])
    grant(agent, holder)
    since = audit_since()
    membership.user_groups_change(holder, actor=STAFF, source=Source.PAGE, remove=["iam"])
    assert [e.action for e in since()] == [membership.GROUPS_CHANGED]
    assert get_perms(reread(holder), agent) == [SUSPEND_PERMISSION]


def test_reactivation_gives_no_grant_back(agent, audit_since):
    holder = teammate(agent)
    grant(agent, holder)
    membership.user_flags_set(holder, actor=STAFF, source=Source.ADMIN, is_active=False)
    membership.user_flags_set(holder, actor=STAFF, source=Source.ADMIN, is_active=True)
    assert get_perms(reread(holder), agent) == []


def test_the_agents_history_says_why_the_grant_went(client, agent, staff):
    holder = teammate(agent)
    grant(agent, holder)
    membership.team_members_change(
        actor=Actor.for_user(staff), team=agent.team, source=Source.PAGE, remove=[holder]
    )
    client.force_login(staff)
    sentences = [e.sentence for e in client.get(agent.get_absolute_url()).context["events"]]
    assert (
        "staff took May pull the kill switch of this agent on support-assistant away from "
        "holder: no longer sees the agent (taken off the team customer-care)"
    ) in sentences


def test_the_admins_save_renaming_and_deactivating_withdraws_the_grant(
    admin_client,  # noqa: F811  (the fixture imported above)
    agent,
):
    """The admin's save records the rename first, then the deactivation: the grant goes
    after both, in the same transaction, under the holder's row lock."""
    holder = teammate(agent)
    grant(agent, holder)
    last = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()
    _post_user(admin_client, holder, username="holder2", is_active=None)
    assert get_perms(reread(holder), agent) == []
    actions = [
        (e.action, e.data.get("user"))
        for e in AuditEvent.objects.filter(seq__gt=last).order_by("seq")
    ]
    assert actions[-1] == (REVIEWER_UNASSIGNED, "holder2")
    assert ("user.active_changed", "holder2") in actions
