"""The pages apply the same owner and team rules as the API: the edit form, registration,
the review page and the review queue."""

import pytest
from django.urls import reverse

from agents.models import OWNERS_MAX
from approvals.ownership import agent_update
from audit.actors import Actor
from signoffs.models import Decision, Dimension
from tests.factories import TeamFactory, UserFactory
from web.selectors import packages_awaiting

pytestmark = pytest.mark.django_db


def edit(client, agent, owners: str):
    data = {"name": agent.name, "team": agent.team.slug, "description": "", "owners": owners}
    return client.post(reverse("agent-edit", args=[agent.slug]), data)


def test_the_edit_form_refuses_reviewers_as_owners_while_in_review(
    client, workflow, agent, owner, audit_since
):
    workflow.submit(agent)
    client.force_login(owner)
    since = audit_since()
    response = edit(client, agent, "owner, security1")
    assert response.status_code == 200
    (problem,) = response.context["form"].errors["owners"]
    assert problem.startswith("security1 reviews v1, which is in review")
    assert list(agent.owners.values_list("username", flat=True)) == ["owner"]
    assert since() == []


def test_the_edit_form_refuses_more_owners_than_the_most_and_changes_nothing(
    client, agent, owner, audit_since
):
    client.force_login(owner)
    since = audit_since()
    names = ", ".join(f"owner{n}" for n in range(OWNERS_MAX + 1))
    response = edit(client, agent, names)
    assert response.status_code == 200
    assert response.context["form"].errors["owners"] == [
        f"Name at most {OWNERS_MAX} owners ({OWNERS_MAX + 1} given)."
    ]
    assert list(agent.owners.values_list("username", flat=True)) == ["owner"]
    assert since() == []


def test_a_deactivated_user_is_refused_as_owner_alike_on_the_page_and_over_the_api(
    client, api, owner, agent, audit_since
):
    UserFactory(username="gone", groups=["product-owner"], is_active=False)
    client.force_login(owner)
    owner_api = api(owner)
    since = audit_since()
    response = edit(client, agent, "owner, gone")
    assert response.status_code == 200
    (problem,) = response.context["form"].errors["owners"]
    assert problem == "gone is deactivated: only an active user can be named an owner."
    response = owner_api.patch(
        f"/api/v1/agents/{agent.slug}", {"owners": ["owner", "gone"]}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["fields"]) == ("inactive_user", {"owners": [problem]})
    body = {
        "slug": "claims-bot",
        "name": "Claims bot",
        "team": agent.team.slug,
        "workload_id": "spiffe://prod.example.com/ns/claims/sa/claims-bot",
        "log_principal": "agent:claims-bot",
        "deployment": "regulated_workflow",
        "owners": ["gone"],
    }
    response = owner_api.post("/api/v1/agents", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"owners": [problem]}
    assert list(agent.owners.values_list("username", flat=True)) == ["owner"]
    assert since() == []


def test_an_unknown_owner_is_named_alike_on_the_page_and_over_the_api(client, api, owner, agent):
    client.force_login(owner)
    (problem,) = edit(client, agent, "owner, ghost").context["form"].errors["owners"]
    response = api(owner).patch(
        f"/api/v1/agents/{agent.slug}", {"owners": ["owner", "ghost"]}, format="json"
    )
    assert response.json()["error"]["fields"] == {"owners": [problem]}


def test_an_owner_deactivated_since_is_kept_or_removed_by_an_edit(
    client, owner, agent, audit_since
):
    gone = UserFactory(username="gone", groups=["product-owner"])
    agent.owners.add(gone)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    client.force_login(owner)
    assert edit(client, agent, "gone, owner").status_code == 302
    since = audit_since()
    assert edit(client, agent, "owner").status_code == 302
    assert list(agent.owners.values_list("username", flat=True)) == ["owner"]
    (event,) = since()
    assert event.after["owners"] == ["owner"]


def test_the_team_choice_holds_only_the_users_teams(client, owner, staff, agent, audit_since):
    TeamFactory(slug="finance")
    client.force_login(owner)
    form = client.get(reverse("agent-new")).context["form"]
    assert [team.slug for team in form.fields["team"].queryset] == ["customer-care"]
    since = audit_since()
    data = {
        "slug": "fin-bot",
        "name": "Finance bot",
        "team": "finance",
        "workload_id": "spiffe://prod.example.com/ns/fin/sa/fin-bot",
        "log_principal": "agent:fin-bot",
        "deployment": "internal_copilot",
    }
    response = client.post(reverse("agent-new"), data)
    assert response.status_code == 200
    assert "team" in response.context["form"].errors
    assert since() == []
    client.force_login(staff)
    form = client.get(reverse("agent-new")).context["form"]
    assert [team.slug for team in form.fields["team"].queryset] == ["customer-care", "finance"]


def test_an_owner_who_stepped_out_gets_no_decision_form_and_no_queue_entry(
    client, workflow, agent, reviewers
):
    security = reviewers[Dimension.SECURITY][0]
    agent.owners.add(security)
    package = workflow.submit(agent)
    agent_update(actor=Actor.for_user(security), agent=agent, owners=[workflow.owner])
    assert not packages_awaiting(security).filter(package=package).exists()
    assert packages_awaiting(reviewers[Dimension.SECURITY][1]).filter(package=package).exists()
    client.force_login(security)
    page = client.get(reverse("package-detail", args=[agent.slug, package.version]))
    cards = {card["signoff"].dimension: card for card in page.context["cards"]}
    assert cards[Dimension.SECURITY]["form"] is None
    url = reverse("package-decide", args=[agent.slug, package.version, Dimension.SECURITY])
    data = {"security-verdict": "approve", "security-comment": "ok", "security-confirmed": "1"}
    data.update({f"security-item_{code}": "on" for code in workflow.answers(package, "security")})
    response = client.post(url, data)
    assert response.status_code == 403
    assert b"owner_review" in response.content
    assert not Decision.objects.exists()
