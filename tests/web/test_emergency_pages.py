"""The emergency release and retirement pages: a reason, who may act, and what they show."""

import pytest
from django.urls import reverse

from agents.models import AgentStatus
from approvals.emergency import emergency_request
from approvals.models import ApprovalPackage, EmergencyApproval, EmergencyState, PackageState
from audit.actors import Actor
from tests.approvals.emergency import emergency_grant
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db


def ask_url(package):
    return reverse("package-emergency", args=[package.agent.slug, package.version])


def approve_url(package, dimension):
    return reverse(
        "package-emergency-approve", args=[package.agent.slug, package.version, dimension]
    )


def retire_url(agent):
    return reverse("agent-retire", args=[agent.slug])


def test_an_owner_asks_from_the_package_page_with_a_reason(client, workflow, agent, audit_since):
    draft = workflow.create(agent)
    client.force_login(workflow.owner)
    page = client.get(draft.get_absolute_url()).content.decode()
    assert ask_url(draft) in page
    since = audit_since()
    refused = client.post(ask_url(draft), {"reason": "   "})
    assert refused.status_code == 400
    assert refused.context["form"].errors["reason"] == ["This field is required."]
    assert since() == [] and ApprovalPackage.objects.get(pk=draft.pk).state == PackageState.DRAFT
    response = client.post(ask_url(draft), {"reason": "Incident 42: the fix must ship."})
    assert response.status_code == 302
    emergency = EmergencyApproval.objects.get(package=draft)
    assert emergency.requested_by == workflow.owner
    assert ApprovalPackage.objects.get(pk=draft.pk).state == PackageState.IN_REVIEW
    page = client.get(draft.get_absolute_url()).content.decode()
    assert 'data-testid="emergency"' in page and "Incident 42" in page
    assert ask_url(draft) not in page


def test_security_and_pam_approve_from_the_page_and_others_see_no_button(
    client, workflow, agent, reviewers
):
    package = workflow.submit(agent)
    emergency_request(actor=Actor.for_user(workflow.owner), package=package, reason="Urgent.")
    for user in (workflow.owner, reviewers["iam"][0]):
        client.force_login(user)
        page = client.get(package.get_absolute_url()).content.decode()
        assert "emergency-approve-" not in page
        assert client.post(approve_url(package, "security")).status_code == 403
    for dimension in ("security", "pam"):
        client.force_login(reviewers[dimension][0])
        page = client.get(package.get_absolute_url()).content.decode()
        assert f"emergency-approve-{dimension}" in page
        assert client.post(approve_url(package, dimension)).status_code == 302
    emergency = EmergencyApproval.objects.get(package=package)
    assert emergency.state == EmergencyState.ACTIVE and emergency.ends_at is not None
    client.force_login(workflow.owner)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert f'data-testid="emergency-{agent.slug}"' in dashboard


def test_the_dashboard_marks_an_emergency_in_the_reviewer_queue(client, workflow, agent, reviewers):
    workflow.approve(agent)
    second = workflow.submit(agent, manifest_for(agent, rollback={"plan": "Second."}))
    emergency_grant(workflow, second)
    client.force_login(reviewers["compliance"][0])
    response = client.get(reverse("dashboard"))
    assert [s.emergency for s in response.context["queue"]] == [True]
    assert "Emergency</span>" in response.content.decode()


def test_an_owner_retires_the_agent_in_two_steps(client, workflow, agent, audit_since):
    package = workflow.approve(agent)
    client.force_login(workflow.owner)
    assert retire_url(agent) in client.get(agent.get_absolute_url()).content.decode()
    since = audit_since()
    response = client.post(retire_url(agent), {"step": "review", "reason": "Replaced."})
    assert response.status_code == 200 and response.context["confirming"] is True
    assert since() == []
    response = client.post(retire_url(agent), {"step": "confirm", "reason": "Replaced."})
    assert response.status_code == 302
    agent.refresh_from_db()
    package.refresh_from_db()
    assert agent.status == AgentStatus.RETIRED and package.state == PackageState.REVOKED
    assert [e.action for e in since() if e.action == "agent.retired"] == ["agent.retired"]
    page = client.get(agent.get_absolute_url()).content.decode()
    assert 'data-testid="retired"' in page and retire_url(agent) not in page
    assert reverse("package-new", args=[agent.slug]) not in page


def test_a_retire_reason_is_required_and_others_are_refused(client, agent, reviewers, other_owner):
    client.force_login(reviewers["security"][0])
    assert retire_url(agent) not in client.get(agent.get_absolute_url()).content.decode()
    assert client.post(retire_url(agent), {"step": "confirm", "reason": "X"}).status_code == 403
    client.force_login(agent.owners.first())
    response = client.post(retire_url(agent), {"step": "confirm", "reason": " "})
    assert response.context["form"].errors["reason"] == ["This field is required."]
    agent.refresh_from_db()
    assert agent.retired_at is None
