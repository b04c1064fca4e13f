"""The packages page: filtered with the API's FilterSet, scoped to what the user may see,
and the dashboard's state counts lead to it with their filter applied."""

import pytest
from django.urls import reverse

from signoffs.models import Dimension, Verdict
from tests.factories import AgentFactory, UserFactory
from tests.web.dom import parse

pytestmark = pytest.mark.django_db

# Query -> the packages ("agent vN") both the page and `GET /api/v1/packages` must list.
QUERIES = {
    "": ["claims v1", "hr v1", "support v1", "support v2", "support v3"],
    "state=in_review": ["claims v1", "support v2"],
    "state=approved&state=draft": ["support v1", "support v3"],
    "pending=iam": ["claims v1"],
    "pending=security&pending=pam": ["claims v1", "support v2"],
    "agent=support": ["support v1", "support v2", "support v3"],
    "team=people": ["hr v1"],
    "owner=owner&state=in_review": ["claims v1", "support v2"],
    "state=&pending=&agent=&team=&owner=&risk_tier=": [
        "claims v1",
        "hr v1",
        "support v1",
        "support v2",
        "support v3",
    ],
    "state=changes_requested": ["hr v1"],
}


@pytest.fixture
def packages(workflow, owner, other_owner, reviewers):
    """support: v1 approved, v2 in review (IAM approved), v3 a draft; claims: v1 in review;
    hr (another team): v1 sent back by security, its other sign-offs left undecided."""
    support = AgentFactory(slug="support", owners=[owner])
    workflow.approve(support)
    second = workflow.submit(support)
    workflow.decide(second, Dimension.IAM)
    workflow.create(support)
    claims = AgentFactory(slug="claims", owners=[owner])
    workflow.submit(claims)
    hr = AgentFactory(slug="hr", team="people", owners=[other_owner])
    workflow.owner = other_owner
    sent_back = workflow.submit(hr)
    workflow.decide(sent_back, Dimension.SECURITY, verdict=Verdict.REQUEST_CHANGES)
    workflow.owner = owner
    return {"support": support, "claims": claims, "hr": hr}


def _names(rows) -> list[str]:
    return sorted(f"{agent} v{version}" for agent, version in rows)


def _page(client, query: str) -> list[str]:
    response = client.get(f"{reverse('package-list')}?{query}")
    assert response.status_code == 200
    return _names((p.agent.slug, p.version) for p in response.context["page"].object_list)


@pytest.mark.parametrize(("query", "expected"), QUERIES.items())
def test_page_and_api_list_the_same_packages(client, api, staff, packages, query, expected):
    client.force_login(staff)
    response = api(staff).get(f"/api/v1/packages?{query}")
    assert response.status_code == 200
    api_rows = _names((p["agent"], p["version"]) for p in response.json()["results"])
    assert _page(client, query) == api_rows == expected


def test_a_sent_back_package_waits_for_no_sign_off(client, staff, packages):
    """hr v1's undecided sign-offs stay pending, but nobody acts on a closed package."""
    client.force_login(staff)
    page = parse(client.get(f"{reverse('package-list')}?agent=hr").content)
    cells = [td.text() for td in page.iter() if td.attrs.get("data-label") == "Sign-offs pending"]
    assert cells == ["–"]


def test_an_owner_sees_only_the_packages_of_agents_they_may_see(client, api, owner, packages):
    client.force_login(owner)
    expected = ["claims v1", "support v1", "support v2", "support v3"]
    assert _page(client, "") == expected
    response = api(owner).get("/api/v1/packages?team=people")
    assert response.status_code == 200 and response.json()["results"] == []
    assert _page(client, "agent=hr") == []


def test_a_reviewer_sees_every_agents_packages(client, reviewers, packages):
    client.force_login(reviewers["pam"][0])
    assert _page(client, "agent=hr") == ["hr v1"]


def test_the_page_ignores_a_value_it_does_not_know_and_says_which(client, staff, packages):
    client.force_login(staff)
    response = client.get(f"{reverse('package-list')}?state=bogus&agent=claims")
    assert _names((p.agent.slug, p.version) for p in response.context["page"].object_list) == [
        "claims v1"
    ]
    assert "state" in response.context["form"].errors


def test_the_api_refuses_a_value_it_does_not_know(api, staff, packages):
    response = api(staff).get("/api/v1/packages?pending=legal")
    assert response.status_code == 400
    assert "pending" in response.json()["error"]["fields"]


def test_the_page_shows_the_pending_dimensions_in_words(client, staff, packages):
    client.force_login(staff)
    page = parse(client.get(f"{reverse('package-list')}?agent=support&state=in_review").content)
    cells = [td.text() for td in page.iter() if td.attrs.get("data-label") == "Sign-offs pending"]
    assert cells == ["PAM, Security, Compliance"]


def test_the_page_is_paged(client, staff, workflow, owner):
    agent = AgentFactory(slug="many", owners=[owner])
    for _ in range(27):
        workflow.create(agent)
    client.force_login(staff)
    first = client.get(reverse("package-list"))
    assert len(first.context["page"].object_list) == 25
    second = client.get(f"{reverse('package-list')}?agent=many&page=2")
    assert [p.version for p in second.context["page"].object_list] == [2, 1]
    assert b'rel="prev"' in second.content


def _links(html: bytes, prefix: str) -> dict[str, str]:
    """Return each link to the packages page: its text -> its href."""
    page = parse(html)
    return {
        " ".join(a.text(spoken=True).split()): a.attrs["href"]
        for a in page.iter()
        if a.tag == "a" and a.attrs.get("href", "").startswith(prefix)
    }


def test_dashboard_state_counts_link_to_their_lists(client, staff, packages):
    client.force_login(staff)
    base = reverse("package-list")
    links = _links(client.get(reverse("dashboard")).content, base + "?")
    in_review = links["In review packages"]
    assert in_review == f"{base}?state=in_review"
    assert _page(client, in_review.split("?", 1)[1]) == ["claims v1", "support v2"]
    assert links["Approved packages"] == f"{base}?state=approved"


def test_owner_home_counts_link_to_their_own_packages(client, owner, packages):
    client.force_login(owner)
    response = client.get(reverse("dashboard"))
    page = parse(response.content)
    home = next(n for n in page.iter() if n.attrs.get("data-testid") == "owner-home")
    links = {
        " ".join(a.text().split()): a.attrs["href"]
        for a in home.iter()
        if a.tag == "a" and a.attrs.get("href", "").startswith(reverse("package-list"))
    }
    assert links["2 In review"] == f"{reverse('package-list')}?owner=owner&state=in_review"
    assert links["1 Draft"].endswith("?owner=owner&state=draft")
    assert _page(client, "owner=owner&state=in_review") == ["claims v1", "support v2"]


def test_another_owner_filter_shows_only_what_the_user_may_see(client, packages):
    outsider = UserFactory(username="outsider", groups=["product-owner"])
    client.force_login(outsider)
    assert _page(client, "owner=owner") == []


def test_a_token_bound_to_an_agent_lists_only_its_packages(api, staff, packages):
    client = api(staff, agents=[packages["claims"]])
    response = client.get("/api/v1/packages")
    assert response.status_code == 200
    assert _names((p["agent"], p["version"]) for p in response.json()["results"]) == ["claims v1"]


def test_a_version_no_longer_approved_shows_when_it_was_to_expire(client, workflow, owner):
    """A revoked approval's expiry is not one it still has, as its own page says."""
    from approvals.services import agent_suspend
    from audit.actors import Actor

    agent = AgentFactory(slug="stopped", owners=[owner])
    approved = workflow.approve(agent)
    agent_suspend(actor=Actor.system("tests"), agent=agent, reason="Incident.")
    client.force_login(owner)
    dom = parse(client.get(reverse("package-list")).content.decode())
    cells = [row.find("td", data_label="Expires").text() for row in dom.find_all("tr")[1:]]
    assert cells == [f"was to expire {approved.expires_at:%Y-%m-%d}"]
