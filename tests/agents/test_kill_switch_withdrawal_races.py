"""Kill-switch grants withdrawn while another change of the agent or of its holder runs.

Two changes that together take sight away (an agent moved to a team while its holder is
taken off that team), each of which alone keeps the grant: the one appending its event
second reads what the first committed, so the grant is withdrawn, in either order. A
revocation by hand and a withdrawal of the same grant: the revocation locks the holder's
row before it touches the grant, so it waits for the withdrawal and finds the grant gone,
one event in all, instead of deadlocking on the grant's row behind the audit chain's lock.
"""

import pytest
from django.contrib.auth import get_user_model
from guardian.shortcuts import get_perms

from agents.membership import (
    REVIEWER_UNASSIGNED,
    TEAMS_CHANGED,
    Source,
    reviewer_assign,
    reviewer_unassign,
    user_teams_change,
)
from agents.models import Agent
from agents.permissions import SUSPEND_PERMISSION
from approvals.ownership import agent_update
from audit.actors import Actor
from audit.models import AuditEvent
from tests.concurrency import queued_behind_the_chain, raced
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

STAFF = Actor.system("staff")


@pytest.fixture
def holder(agent):
    """A holder of the agent's kill switch on its team customer-care and on payments."""
    user = UserFactory(username="holder", groups=["product-owner"])
    agent.team.members.add(user)
    TeamFactory(slug="payments", members=[user])
    reviewer_assign(
        actor=STAFF, agent=agent, user=user, permission=SUSPEND_PERMISSION, source=Source.COMMAND
    )
    return user


def _withdrawals() -> list:
    return list(AuditEvent.objects.filter(action=REVIEWER_UNASSIGNED).order_by("seq"))


@pytest.mark.parametrize("first", ["the move", "the team left"])
def test_the_move_and_the_team_left_together_withdraw_the_grant(agent, holder, first):
    def move():
        agent_update(
            actor=STAFF, agent=Agent.objects.get(pk=agent.pk), team=TeamFactory(slug="payments")
        )

    def leave():
        user_teams_change(holder, actor=STAFF, source=Source.PAGE, remove=["payments"])

    errors = raced(*((move, leave) if first == "the move" else (leave, move)))
    assert not errors, errors
    assert Agent.objects.get(pk=agent.pk).team.slug == "payments"
    holder = get_user_model().objects.get(pk=holder.pk)
    assert not holder.teams.filter(slug="payments").exists()
    assert get_perms(holder, agent) == []
    [withdrawal] = _withdrawals()
    assert withdrawal.data["user"] == "holder"


def test_a_revocation_by_hand_waits_for_the_withdrawal_under_way(agent, holder):
    def leave():
        user_teams_change(holder, actor=STAFF, source=Source.PAGE, remove=["customer-care"])

    def revoke():
        return reviewer_unassign(
            actor=STAFF,
            agent=agent,
            user=holder,
            permission=SUSPEND_PERMISSION,
            source=Source.PAGE,
        )

    _, revoked = queued_behind_the_chain(leave, revoke)
    assert revoked is False  # the withdrawal took it first
    [withdrawal] = _withdrawals()
    assert withdrawal.data["cause"] == TEAMS_CHANGED
    assert get_perms(get_user_model().objects.get(pk=holder.pk), agent) == []
