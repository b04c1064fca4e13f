"""The agents page and the API list filter agents with one FilterSet, so they agree."""

import pytest
from django.urls import reverse

from agents.models import AgentStatus, Deployment
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db

# Query -> the agents both must list. bravo is suspended, the others are new.
QUERIES = {
    "q=refund": ["alpha"],  # matches a description, not a slug or name
    "status=suspended": ["bravo"],
    "deployment=internal_copilot&deployment=regulated_workflow": ["charlie", "delta"],
    "risk_tier=high": ["alpha"],
    "q=&status=&team=&deployment=&risk_tier=": ["alpha", "bravo", "charlie", "delta"],
    "team=customer-care&status=new": ["alpha", "charlie", "delta"],
}


@pytest.fixture
def fleet(staff):
    AgentFactory(slug="alpha", description="Issues refunds up to 50 EUR.", risk_tier="high")
    AgentFactory(slug="bravo", status=AgentStatus.SUSPENDED, team="finance")
    AgentFactory(slug="charlie", deployment=Deployment.INTERNAL_COPILOT, status=AgentStatus.NEW)
    AgentFactory(slug="delta", deployment=Deployment.REGULATED_WORKFLOW, risk_tier="low")


def _page_slugs(client, query: str) -> list[str]:
    response = client.get(f"{reverse('agent-list')}?{query}")
    assert response.status_code == 200
    return [agent.slug for agent in response.context["page"].object_list]


@pytest.mark.parametrize(("query", "expected"), QUERIES.items())
def test_page_and_api_list_the_same_agents(client, api, staff, fleet, query, expected):
    client.force_login(staff)
    response = api(staff).get(f"/api/v1/agents?{query}")
    assert response.status_code == 200
    api_slugs = sorted(agent["slug"] for agent in response.json()["results"])
    assert _page_slugs(client, query) == api_slugs == expected


def test_the_page_ignores_a_value_it_does_not_know_and_says_which(client, staff, fleet):
    client.force_login(staff)
    response = client.get(f"{reverse('agent-list')}?status=bogus&q=refund")
    assert [a.slug for a in response.context["page"].object_list] == ["alpha"]
    assert "status" in response.context["form"].errors
