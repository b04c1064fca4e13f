"""The kill switch: who may pull it, what it does, and how it is lifted."""

import pytest

from agents.models import AgentStatus
from approvals.models import PackageState
from approvals.services import agent_suspend
from audit.actors import Actor
from config.errors import InvalidInput, InvalidTransition, NotPermitted
from config.reasons import REASON_MAX_LENGTH
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db


def test_security_reviewer_suspends_and_approval_is_revoked(
    workflow, agent, reviewers, audit_since
):
    package = workflow.approve(agent)
    since = audit_since()
    agent_suspend(actor=Actor.for_user(reviewers["security"][0]), agent=agent, reason="Leak")
    agent.refresh_from_db()
    package.refresh_from_db()
    assert agent.status == AgentStatus.SUSPENDED
    assert agent.suspended_reason == "Leak"
    assert package.state == PackageState.REVOKED
    events = since()
    assert [e.action for e in events] == ["package.revoked", "agent.suspended"]
    assert events[1].actor_label == reviewers["security"][0].username


@pytest.mark.parametrize("role", ["iam", "compliance", "owner"])
def test_others_may_not_suspend(workflow, agent, reviewers, role, audit_since):
    workflow.approve(agent)
    user = workflow.owner if role == "owner" else reviewers[role][0]
    since = audit_since()
    with pytest.raises(NotPermitted):
        agent_suspend(actor=Actor.for_user(user), agent=agent, reason="x")
    assert since() == []


@pytest.mark.parametrize(
    ("reason", "problem"),
    [
        (" ", "A reason is required."),
        ("x" * (REASON_MAX_LENGTH + 1), f"At most {REASON_MAX_LENGTH} characters."),
    ],
)
def test_a_missing_or_overlong_reason_is_refused_and_changes_nothing(
    workflow, agent, reviewers, audit_since, reason, problem
):
    since = audit_since()
    with pytest.raises(InvalidInput) as raised:
        agent_suspend(actor=Actor.for_user(reviewers["pam"][0]), agent=agent, reason=reason)
    assert raised.value.fields == {"reason": [problem]}
    agent.refresh_from_db()
    assert agent.suspended_at is None and since() == []


def test_suspending_twice_is_refused(workflow, agent, staff):
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="x")
    with pytest.raises(InvalidTransition):
        agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="y")


def test_a_fresh_approval_lifts_the_suspension(workflow, agent, staff):
    workflow.approve(agent)
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident")
    fresh = workflow.approve(agent, manifest_for(agent))
    agent.refresh_from_db()
    assert fresh.state == PackageState.APPROVED
    assert agent.suspended_at is None
    assert agent.status == AgentStatus.APPROVED
