"""Agents over HTTP: list with filters and scoping, retrieve, create, update."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.models import Agent
from tests.api.conftest import error_of
from tests.factories import AgentFactory, TeamFactory
from tokens.models import Scope

pytestmark = pytest.mark.django_db

AGENTS = "/api/v1/agents"


def slugs(response) -> list[str]:
    return [row["slug"] for row in response.json()["results"]]


def test_an_owner_lists_only_the_agents_of_their_team(api, owner, agent, other_team_agent):
    response = api(owner, Scope.GATE_CHECK).get(AGENTS)
    assert response.status_code == 200
    assert slugs(response) == ["support-assistant"]
    row = response.json()["results"][0]
    assert row["owners"] == ["owner"]
    assert row["status"] == "new"


def test_reviewers_and_staff_see_every_agent(api, reviewers, staff, agent, other_team_agent):
    for user in (reviewers["iam"][0], staff):
        response = api(user, Scope.REVIEWS_WRITE).get(AGENTS)
        assert slugs(response) == ["hr-policy-copilot", "support-assistant"]


def test_another_teams_agent_is_404_not_403(api, owner, other_team_agent):
    client = api(owner)
    for method, path, body in [
        ("get", f"{AGENTS}/hr-policy-copilot", None),
        ("patch", f"{AGENTS}/hr-policy-copilot", {"name": "Mine now"}),
        ("get", f"{AGENTS}/hr-policy-copilot/packages", None),
        ("post", f"{AGENTS}/hr-policy-copilot/packages", {"agent": "hr-policy-copilot"}),
        ("post", f"{AGENTS}/hr-policy-copilot/observations", {"items": [{"kind": "tool"}]}),
    ]:
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 404, (method, path)
        assert error_of(response)["code"] == "not_found"


def test_filters_by_status_team_deployment_and_risk_tier(api, staff):
    AgentFactory(slug="a1", team="care", deployment="customer_facing")
    AgentFactory(slug="a2", team="hr", deployment="internal_copilot")
    Agent.objects.filter(slug="a2").update(status="approved", risk_tier="low")
    client = api(staff)
    assert slugs(client.get(AGENTS, {"team": "hr"})) == ["a2"]
    assert slugs(client.get(AGENTS, {"status": "approved"})) == ["a2"]
    assert slugs(client.get(AGENTS, {"status": "new"})) == ["a1"]
    assert slugs(client.get(AGENTS, {"deployment": "customer_facing"})) == ["a1"]
    assert slugs(client.get(AGENTS, {"risk_tier": "low"})) == ["a2"]
    response = client.get(AGENTS, {"status": "bogus"})
    assert response.status_code == 400
    assert "status" in error_of(response)["fields"]


def test_the_list_query_count_does_not_grow_with_rows(api, staff, owner):
    client = api(staff)
    AgentFactory(owners=[owner])
    client.get(AGENTS)
    with CaptureQueriesContext(connection) as few:
        assert client.get(AGENTS).status_code == 200
    for _ in range(8):
        AgentFactory(owners=[owner, staff])
    with CaptureQueriesContext(connection) as many:
        response = client.get(AGENTS)
    assert response.json()["count"] == 9
    assert len(many) == len(few)


def test_retrieve(api, owner, agent):
    response = api(owner).get(f"{AGENTS}/{agent.slug}")
    assert response.status_code == 200
    assert response.json()["workload_id"] == agent.workload_id


def test_create_makes_the_caller_owner_and_audits(api, owner, audit_since):
    TeamFactory(slug="claims", members=[owner])
    client = api(owner, Scope.PACKAGES_WRITE)
    since = audit_since()
    body = {
        "slug": "claims-bot",
        "name": "Claims bot",
        "team": "claims",
        "workload_id": "spiffe://prod.example.com/ns/claims/sa/claims-bot",
        "log_principal": "agent:claims-bot",
        "deployment": "regulated_workflow",
    }
    response = client.post(AGENTS, body, format="json")
    assert response.status_code == 201, response.json()
    assert (response.json()["owners"], response.json()["team"]) == (["owner"], "claims")
    (event,) = since()
    assert (event.action, event.actor_label, event.actor_type) == (
        "agent.created",
        "owner",
        "token",
    )


def test_create_refuses_bad_fields_with_field_errors(api, owner, agent):
    response = api(owner).post(
        AGENTS,
        {
            "slug": agent.slug,
            "name": "Dup",
            "workload_id": "https://not-spiffe",
            "log_principal": "x",
            "deployment": "customer_facing",
        },
        format="json",
    )
    assert response.status_code == 400
    error = error_of(response)
    assert "workload_id" in error["fields"]
    response = api(owner).post(AGENTS, {"slug": "bad slug!"}, format="json")
    assert response.status_code == 400
    assert {"slug", "name", "deployment"} <= set(error_of(response)["fields"])


def test_a_taken_slug_or_identity_is_a_409_naming_it(api, owner, agent):
    client = api(owner, Scope.PACKAGES_WRITE)
    body = {
        "slug": "claims-bot",
        "name": "Claims bot",
        "workload_id": "spiffe://prod.example.com/ns/claims/sa/claims-bot",
        "log_principal": "agent:claims-bot",
        "deployment": "regulated_workflow",
    }
    for changes, field in [
        ({"workload_id": agent.workload_id}, "workload_id"),
        ({"slug": agent.slug}, "slug"),
    ]:
        response = client.post(AGENTS, {**body, **changes}, format="json")
        assert response.status_code == 409
        error = error_of(response)
        assert (error["code"], list(error["fields"])) == ("already_exists", [field])
    assert list(Agent.objects.values_list("slug", flat=True)) == [agent.slug]


def test_update_by_owner_and_refusal_for_a_reviewer(api, owner, reviewers, agent, audit_since):
    client = api(owner)
    since = audit_since()
    response = client.patch(
        f"{AGENTS}/{agent.slug}",
        {"description": "Answers tickets.", "owners": ["owner"]},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["description"] == "Answers tickets."
    assert [e.action for e in since()] == ["agent.updated"]
    response = api(reviewers["iam"][0]).patch(
        f"{AGENTS}/{agent.slug}", {"name": "Hijacked"}, format="json"
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "not_owner"
    response = api(owner).patch(f"{AGENTS}/{agent.slug}", {"owners": ["ghost"]}, format="json")
    assert response.status_code == 400
    assert "owners" in error_of(response)["fields"]


def test_put_and_delete_are_not_offered(api, owner, agent):
    client = api(owner)
    assert client.put(f"{AGENTS}/{agent.slug}", {}, format="json").status_code == 405
    assert client.delete(f"{AGENTS}/{agent.slug}").status_code == 405
