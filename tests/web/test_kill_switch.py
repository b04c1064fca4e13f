"""The kill switch page: a reason, a confirmation, and only for those allowed."""

import pytest
from django.urls import reverse

from agents.models import AgentStatus
from approvals.models import PackageState

pytestmark = pytest.mark.django_db


def suspend_url(agent):
    return reverse("agent-suspend", args=[agent.slug])


def test_suspending_takes_a_reason_and_a_confirmation(
    client, workflow, agent, reviewers, audit_since
):
    package = workflow.approve(agent)
    security = reviewers["security"][0]
    client.force_login(security)
    detail = client.get(agent.get_absolute_url()).content.decode()
    assert suspend_url(agent) in detail
    assert client.get(suspend_url(agent)).status_code == 200
    since = audit_since()
    response = client.post(suspend_url(agent), {"step": "review", "reason": "Leaking data."})
    assert response.status_code == 200
    assert response.context["confirming"] is True
    assert "Suspend support-assistant now" in response.content.decode()
    agent.refresh_from_db()
    assert agent.suspended_at is None and since() == []
    response = client.post(suspend_url(agent), {"step": "confirm", "reason": "Leaking data."})
    assert response.status_code == 302
    agent.refresh_from_db()
    package.refresh_from_db()
    assert agent.status == AgentStatus.SUSPENDED
    assert agent.suspended_reason == "Leaking data."
    assert package.state == PackageState.REVOKED
    suspended = [e for e in since() if e.action == "agent.suspended"]
    assert len(suspended) == 1 and suspended[0].actor_label == security.username
    # Once suspended, the button is gone.
    assert suspend_url(agent) not in client.get(agent.get_absolute_url()).content.decode()


def test_a_reason_is_required(client, agent, reviewers):
    client.force_login(reviewers["security"][0])
    response = client.post(suspend_url(agent), {"step": "confirm", "reason": "  "})
    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["This field is required."]
    agent.refresh_from_db()
    assert agent.suspended_at is None


@pytest.mark.parametrize("who", ["iam", "compliance", "owner"])
def test_others_see_no_button_and_are_refused(client, agent, reviewers, owner, who):
    user = owner if who == "owner" else reviewers[who][0]
    client.force_login(user)
    assert suspend_url(agent) not in client.get(agent.get_absolute_url()).content.decode()
    assert client.get(suspend_url(agent)).status_code == 403
    response = client.post(suspend_url(agent), {"step": "confirm", "reason": "Because."})
    assert response.status_code == 403
    agent.refresh_from_db()
    assert agent.suspended_at is None
