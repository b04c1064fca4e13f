"""Three ways a token reached past its user's rights, each shown through the API.

4. A user who may only look at an agent got it suspended with forged observations, and so
   did an owner taken off the agent, through a token bound while they owned it.
5. A token scope widened a role: an owner's audit:read token read the whole trail.
6. A gate deny handed the approved digest of any agent to any gate:check token.
"""

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import override_settings
from rest_framework.test import APIClient

from agents.models import Observation
from approvals.drift import drift_evaluate
from approvals.ownership import agent_update
from audit.actors import Actor
from tests.api.conftest import GATE, codes, error_of
from tests.factories import AgentFactory, UserFactory, manifest_for
from tokens.models import Scope

pytestmark = pytest.mark.django_db

FORGED = {"items": [{"kind": "tool", "identifier": "prod-db-admin-console", "access": "admin"}]}
EVERY_TIER = {
    **settings.COUNTERSIGN,
    "SUSPEND_ON_CRITICAL_DRIFT": True,
    "SUSPEND_ON_CRITICAL_DRIFT_TIERS": ["critical", "high", "medium", "low"],
}


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


@override_settings(COUNTERSIGN=EVERY_TIER)
@pytest.mark.parametrize("group", ["iam", "pam", "compliance", "compliance-officer"])
def test_hole_4_a_viewer_cannot_get_an_agent_suspended_with_forged_observations(
    api, workflow, agent, group
):
    workflow.approve(agent)
    viewer = UserFactory(username=f"viewer-{group}", groups=[group])
    # Refused at creation: the viewer's role does not report observations.
    made = signed_in(viewer).post(
        "/api/v1/tokens", {"name": "x", "scopes": [Scope.OBSERVATIONS_WRITE]}, format="json"
    )
    assert made.status_code == 400, made.content
    assert "scopes" in error_of(made)["fields"]
    # A token made while the viewer was also a product owner is refused once that role is gone.
    viewer.groups.add(Group.objects.get_or_create(name="product-owner")[0])
    client = api(viewer, Scope.OBSERVATIONS_WRITE)
    viewer.groups.remove(Group.objects.get(name="product-owner"))
    response = client.post(f"/api/v1/agents/{agent.slug}/observations", FORGED, format="json")
    assert response.status_code == 403, response.content
    assert not Observation.objects.filter(agent=agent).exists()
    drift_evaluate(actor=Actor.system("tests"))
    agent.refresh_from_db()
    assert agent.suspended_at is None


@override_settings(COUNTERSIGN=EVERY_TIER)
def test_hole_4_a_teammate_who_does_not_own_the_agent_cannot_report_for_it(api, workflow, agent):
    workflow.approve(agent)
    teammate = UserFactory(username="teammate", groups=["product-owner"])
    AgentFactory(slug="teammates-agent", team=agent.team, owners=[teammate])
    client = api(teammate, Scope.OBSERVATIONS_WRITE, Scope.AGENTS_READ)
    assert client.get(f"/api/v1/agents/{agent.slug}").status_code == 200  # the team sees it
    response = client.post(f"/api/v1/agents/{agent.slug}/observations", FORGED, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "not_owner"
    drift_evaluate(actor=Actor.system("tests"))
    agent.refresh_from_db()
    assert agent.suspended_at is None


@override_settings(COUNTERSIGN=EVERY_TIER)
def test_hole_4_an_owner_taken_off_the_agent_cannot_report_with_a_token_bound_before(
    api, workflow, agent, owner
):
    workflow.approve(agent)
    former = UserFactory(username="former-owner", groups=["product-owner"])
    agent.team.members.add(former)
    agent.owners.add(former)
    client = api(former, Scope.OBSERVATIONS_WRITE, Scope.AGENTS_READ, agents=[agent])
    item = {"kind": "tool", "identifier": "kb-search", "access": "read"}
    path = f"/api/v1/agents/{agent.slug}/observations"
    reported = client.post(path, {"items": [item]}, format="json")
    assert reported.status_code == 202, reported.content  # bound while an owner: reports
    Observation.objects.all().delete()

    agent_update(actor=Actor.for_user(owner), agent=agent, owners=[owner])
    assert client.get(f"/api/v1/agents/{agent.slug}").status_code == 200  # the team sees it
    for reporter in (signed_in(former), client):
        response = reporter.post(path, FORGED, format="json")
        assert response.status_code == 403, response.content
        assert error_of(response)["code"] == "not_owner"
    assert not Observation.objects.filter(agent=agent).exists()
    drift_evaluate(actor=Actor.system("tests"))
    agent.refresh_from_db()
    assert agent.suspended_at is None

    # Made an owner again, the same binding reports again: it follows the ownership.
    agent.owners.add(former)
    response = client.post(path, FORGED, format="json")
    assert response.status_code == 202, response.content


def test_hole_5_an_owner_cannot_read_the_audit_trail_with_a_token(api, owner, agent):
    assert signed_in(owner).get("/api/v1/audit/events").status_code == 403
    made = signed_in(owner).post(
        "/api/v1/tokens", {"name": "x", "scopes": [Scope.AUDIT_READ]}, format="json"
    )
    assert made.status_code == 400, made.content
    assert "audit:read" in error_of(made)["fields"]["scopes"][0]
    # A token made while the owner was a compliance officer stops reading when that role goes.
    owner.groups.add(Group.objects.get_or_create(name="compliance-officer")[0])
    client = api(owner, Scope.AUDIT_READ)
    assert client.get("/api/v1/audit/events").status_code == 200
    owner.groups.remove(Group.objects.get(name="compliance-officer"))
    for path in ("/api/v1/audit/events", "/api/v1/audit/export.csv", "/api/v1/audit/export.jsonl"):
        assert client.get(path).status_code == 403, path


def test_hole_6_a_deny_never_hands_out_the_approved_digest(api, workflow, agent, other_owner):
    approved = workflow.approve(agent)
    stranger = api(other_owner, Scope.GATE_CHECK)  # owns another team's agent, not this one
    expanded = manifest_for(agent)
    expanded["scope"]["tools"].append({"id": "shell", "access": "execute"})
    for body in ({"digest": "0" * 64}, {"manifest": expanded}):
        answer = stranger.post(GATE, {"agent": agent.slug, **body}, format="json").json()
        assert answer["decision"] == "deny"
        assert approved.digest not in str(answer)
    # A token bound to another agent learns nothing of this one, not even its version.
    elsewhere = AgentFactory(slug="elsewhere", owners=[other_owner])
    bound = api(other_owner, Scope.GATE_CHECK, agents=[elsewhere])
    answer = bound.post(GATE, {"agent": agent.slug, "digest": "0" * 64}, format="json").json()
    assert codes(answer) == ["agent_not_bound"]
    assert (answer["package_version"], answer["digest"], answer["expires_at"]) == (None,) * 3
