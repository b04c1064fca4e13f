"""Teams over HTTP: administered, not declared; owners see the agents of their teams."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from agents.membership import team_members_change
from agents.models import Agent
from approvals.services import package_create
from audit.actors import Actor
from tests.api.conftest import error_of
from tests.factories import AgentFactory, TeamFactory, UserFactory, manifest_for

pytestmark = pytest.mark.django_db

AGENTS = "/api/v1/agents"
HR = f"{AGENTS}/hr-policy-copilot"


def register(client, team, slug="fin-bot"):
    body = {
        "slug": slug,
        "name": "Finance bot",
        "team": team,
        "workload_id": f"spiffe://prod.example.com/ns/fin/sa/{slug}",
        "log_principal": f"agent:{slug}",
        "deployment": "internal_copilot",
    }
    return client.post(AGENTS, body, format="json")


@pytest.fixture
def finance_owner(db):
    user = UserFactory(username="fiona", groups=["product-owner"])
    TeamFactory(slug="finance", members=[user])
    return user


@pytest.fixture
def people_ops_agent(db, other_owner, checklists):
    """Another team's agent with a draft package and audit events."""
    agent = AgentFactory(slug="hr-policy-copilot", team="people-ops", owners=[other_owner])
    package_create(actor=Actor.for_user(other_owner), agent=agent, manifest=manifest_for(agent))
    return agent


def sees_people_ops(client, browser) -> dict[str, int]:
    """Return the status of each read of the people-ops agent, and its audit rows seen."""
    statuses = {path: client.get(path).status_code for path in (HR, f"{HR}/packages")}
    statuses[f"{HR}/packages/1"] = client.get(f"{HR}/packages/1").status_code
    events = browser.get(reverse("audit-log"), {"agent": "hr-policy-copilot"})
    statuses["audit rows"] = len(events.context["page"].events)
    return statuses


def test_a_product_owner_cannot_declare_another_team_to_read_its_work(
    api, finance_owner, people_ops_agent, audit_since
):
    client = api(finance_owner)
    browser = Client()
    browser.force_login(finance_owner)
    hidden = {f"{HR}": 404, f"{HR}/packages": 404, f"{HR}/packages/1": 404, "audit rows": 0}
    assert sees_people_ops(client, browser) == hidden
    since = audit_since()
    response = register(client, "people-ops")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "not_team_member"
    assert "people-ops" in error["fields"]["team"][0]
    assert not Agent.objects.filter(slug="fin-bot").exists()
    assert since() == []
    assert sees_people_ops(client, browser) == hidden


def test_another_teams_name_and_no_teams_name_read_alike(
    api, client, finance_owner, owner, agent, people_ops_agent
):
    """A team the caller is not a member of and a team that does not exist are refused in the
    same words, over the API and on the pages: naming teams does not tell which exist."""
    answers = {}
    for team in ("people-ops", "no-such-team"):
        registered = register(api(finance_owner), team)
        moved = api(owner).patch(f"{AGENTS}/{agent.slug}", {"team": team}, format="json")
        answers[team] = [
            json.dumps(error_of(response)).replace(team, "TEAM") for response in (registered, moved)
        ]
    assert answers["people-ops"] == answers["no-such-team"]
    assert json.loads(answers["no-such-team"][0])["fields"].keys() == {"team"}
    client.force_login(owner)
    pages = {}
    for team in ("people-ops", "no-such-team"):
        data = {"name": agent.name, "team": team, "owners": owner.username}
        response = client.post(reverse("agent-edit", args=[agent.slug]), data)
        errors = response.context["form"].errors.get_json_data()
        assert errors.keys() == {"team"}
        pages[team] = json.dumps(errors).replace(team, "TEAM")
    assert pages["people-ops"] == pages["no-such-team"]
    agent.refresh_from_db()
    assert agent.team.slug == "customer-care"
    assert not Agent.objects.filter(slug="fin-bot").exists()


def test_an_owner_cannot_move_an_agent_into_another_team(api, owner, agent, people_ops_agent):
    response = api(owner).patch(f"{AGENTS}/{agent.slug}", {"team": "people-ops"}, format="json")
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"team"}
    agent.refresh_from_db()
    assert agent.team.slug == "customer-care"
    assert api(owner).get(HR).status_code == 404


def test_registration_names_a_team_of_ones_own_or_staff_name_any(
    api, finance_owner, staff, people_ops_agent
):
    response = register(api(finance_owner), "finance")
    assert response.status_code == 201, response.json()
    assert response.json()["team"] == "finance"
    response = register(api(staff), "people-ops", slug="hr-bot")
    assert response.status_code == 201, response.json()
    assert response.json()["team"] == "people-ops"
    # Staff, who administer every team, are told that none has the slug; an owner is
    # refused as for another team's.
    response = register(api(staff), "no-such-team", slug="ghost-bot")
    assert error_of(response)["fields"] == {"team": ["No team 'no-such-team'."]}
    response = register(api(finance_owner), "no-such-team", slug="ghost-bot")
    assert error_of(response)["code"] == "not_team_member"
    response = register(api(finance_owner), "", slug="teamless-bot")
    assert response.status_code == 201
    assert response.json()["team"] is None


def test_owners_see_what_their_teams_own_and_no_more(api, owner, other_owner, agent):
    """Owning an agent of a team is not membership: only members see the team's others."""
    people = TeamFactory(slug="people-ops", members=[other_owner])
    shared = AgentFactory(slug="shared", team=people, owners=[other_owner])
    shared.owners.add(owner)
    AgentFactory(slug="hr-policy-copilot", team=people, owners=[other_owner])
    client = api(owner)
    listed = [row["slug"] for row in client.get(AGENTS).json()["results"]]
    assert listed == ["shared", "support-assistant"]
    assert client.get(HR).status_code == 404
    team_members_change(actor=Actor.system("tests"), team=people, source="command", add=[owner])
    assert client.get(HR).status_code == 200
    team_members_change(actor=Actor.system("tests"), team=people, source="command", remove=[owner])
    assert client.get(HR).status_code == 404
    assert client.get(f"{AGENTS}/shared").status_code == 200


def test_a_manifest_names_the_agents_team_or_none(api, owner, agent):
    TeamFactory(slug="finance", members=[owner])
    client = api(owner)
    response = client.post(
        f"{AGENTS}/{agent.slug}/packages", manifest_for(agent, team="finance"), format="json"
    )
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"manifest.team"}
    response = client.post(
        f"{AGENTS}/{agent.slug}/packages", manifest_for(agent, team=None), format="json"
    )
    assert response.status_code == 201, response.json()
