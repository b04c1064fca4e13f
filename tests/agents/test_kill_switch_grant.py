"""The per-agent kill-switch grant (`suspend_agent`) counts only for someone who may see the
agent: it is granted only to them, and a holder who can no longer see it may not suspend
(a change through the services withdraws such a grant: test_kill_switch_withdrawal.py)."""

import pytest
from django.contrib.auth import get_user_model
from guardian.shortcuts import get_perms

from agents.membership import (
    Source,
    reviewer_assign,
    team_members_change,
)
from agents.models import Agent, viewer_condition
from agents.permissions import SUSPEND_PERMISSION, can_suspend
from approvals.services import agent_suspend
from audit.actors import Actor
from config.errors import InvalidInput, NotPermitted
from tests.factories import AgentFactory, UserFactory

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


def grant(agent, user) -> bool:
    return reviewer_assign(
        actor=SYSTEM, agent=agent, user=user, permission=SUSPEND_PERMISSION, source=Source.COMMAND
    )


def reread(user):
    return get_user_model().objects.get(pk=user.pk)


def test_the_grant_is_refused_for_someone_who_cannot_see_the_agent(agent, audit_since):
    outsider = UserFactory(username="outsider", groups=["product-owner"])
    since = audit_since()
    with pytest.raises(InvalidInput) as raised:
        grant(agent, outsider)
    assert raised.value.code == "cannot_see_agent"
    [message] = raised.value.fields["user"]
    assert message.startswith("outsider cannot see support-assistant")
    assert "team 'customer-care'" in message and "group that sees every agent" in message
    assert since() == [] and get_perms(outsider, agent) == []


def test_an_agent_without_a_team_names_the_groups_only(owner, audit_since):
    loner = AgentFactory(slug="loner", team=None, owners=[owner])
    outsider = UserFactory(username="outsider", groups=["product-owner"])
    with pytest.raises(InvalidInput) as raised:
        grant(loner, outsider)
    [message] = raised.value.fields["user"]
    assert "has no team" in message and "group that sees every agent" in message


def test_the_grant_is_made_to_anyone_who_sees_the_agent(agent, owner, reviewers, staff):
    teammate = UserFactory(username="teammate", groups=["product-owner"])
    team_members_change(actor=SYSTEM, team=agent.team, source=Source.COMMAND, add=[teammate])
    officer = UserFactory(username="officer", groups=["compliance-officer"])
    for user in (owner, teammate, officer, reviewers["iam"][0], staff):
        assert grant(agent, user), user
        assert can_suspend(reread(user), agent), user


def test_a_holder_who_can_no_longer_see_the_agent_may_not_suspend_it(agent, audit_since):
    """A grant left unusable, by a change made beneath the services (which withdraw it,
    tests/agents/test_kill_switch_withdrawal.py) or before they withdrew one, is refused."""
    teammate = UserFactory(username="teammate", groups=["product-owner"])
    team_members_change(actor=SYSTEM, team=agent.team, source=Source.COMMAND, add=[teammate])
    assert grant(agent, teammate)
    assert can_suspend(reread(teammate), agent)
    agent.team.members.remove(teammate)
    teammate = reread(teammate)
    assert teammate.has_perm(f"agents.{SUSPEND_PERMISSION}", agent)  # still held
    check = can_suspend(teammate, agent)
    assert not check and check.code == "not_permitted"
    since = audit_since()
    with pytest.raises(NotPermitted):
        agent_suspend(actor=Actor.for_user(teammate), agent=agent, reason="Incident 42.")
    assert since() == [] and Agent.objects.get(pk=agent.pk).suspended_at is None


def test_a_deactivated_holder_may_not_suspend(agent, owner):
    assert grant(agent, owner)
    get_user_model().objects.filter(pk=owner.pk).update(is_active=False)
    assert not can_suspend(reread(owner), agent)


def test_the_holders_listed_see_the_agent_as_visible_to_says(agent, owner, reviewers, staff):
    """`viewer_condition`, which lists holders in one query, reads visibility from the users'
    side; it answers as `Agent.objects.visible_to` does for each user and agent."""
    loner = AgentFactory(slug="loner", team=None, owners=[owner])
    teammate = UserFactory(username="teammate", groups=["product-owner"])
    team_members_change(actor=SYSTEM, team=agent.team, source=Source.COMMAND, add=[teammate])
    people = [
        owner,
        teammate,
        staff,
        reviewers["iam"][0],
        reviewers["compliance"][0],
        UserFactory(username="officer", groups=["compliance-officer"]),
        UserFactory(username="stranger", groups=["product-owner"]),
        UserFactory(username="nobody"),
    ]
    users = get_user_model().objects.filter(pk__in=[user.pk for user in people])
    for target in (agent, loner):
        seeing = set(users.filter(viewer_condition(target)).values_list("username", flat=True))
        expected = {
            user.username
            for user in people
            if Agent.objects.visible_to(user).filter(pk=target.pk).exists()
        }
        assert seeing == expected, target
        assert {"stranger", "nobody"}.isdisjoint(seeing) and "owner" in seeing
    assert "teammate" not in set(
        users.filter(viewer_condition(loner)).values_list("username", flat=True)
    )
