"""Every page renders for the people who use it."""

import re

import pytest
from django.urls import reverse

from signoffs.models import Dimension
from tests.factories import TeamFactory

pytestmark = pytest.mark.django_db


def test_every_page_renders(client, workflow, agent, owner, reviewers):
    package = workflow.approve(agent)
    draft = workflow.create(agent)
    urls = [
        reverse("dashboard"),
        reverse("agent-list"),
        reverse("agent-new"),
        reverse("agent-detail", args=[agent.slug]),
        reverse("agent-edit", args=[agent.slug]),
        reverse("package-new", args=[agent.slug]),
        reverse("package-detail", args=[agent.slug, package.version]),
        reverse("package-edit", args=[agent.slug, draft.version]),
        reverse("audit-log"),
    ]
    client.force_login(owner)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
    client.force_login(reviewers[Dimension.SECURITY][0])
    response = client.get(reverse("agent-suspend", args=[agent.slug]))
    assert response.status_code == 200


def test_register_an_agent_with_errors_beside_the_fields(client, owner, audit_since):
    from agents.models import Agent

    TeamFactory(slug="care", members=[owner])
    client.force_login(owner)
    data = {
        "slug": "new-bot",
        "name": "New bot",
        "team": "care",
        "workload_id": "spiffe://Prod.example.com/bot/",
        "log_principal": "agent:new-bot",
        "deployment": "internal_copilot",
    }
    response = client.post(reverse("agent-new"), data)
    assert response.status_code == 200
    errors = response.context["form"].errors["workload_id"]
    assert any("trust domain" in message for message in errors)
    assert not Agent.objects.filter(slug="new-bot").exists()
    since = audit_since()
    data["workload_id"] = "spiffe://prod.example.com/ns/care/sa/new-bot"
    response = client.post(reverse("agent-new"), data)
    agent = Agent.objects.get(slug="new-bot")
    assert response["Location"] == agent.get_absolute_url()
    assert (list(agent.owners.all()), agent.team.slug) == ([owner], "care")
    assert [(e.action, e.actor_label) for e in since()] == [("agent.created", "owner")]


def test_edit_an_agent(client, owner, other_owner, agent, reviewers):
    url = reverse("agent-edit", args=[agent.slug])
    client.force_login(owner)
    data = {
        "name": "Renamed",
        "team": agent.team.slug,
        "description": "",
        "owners": "owner, nobody",
    }
    response = client.post(url, data)
    assert response.context["form"].errors["owners"] == ["No user 'nobody'."]
    data["owners"] = "owner, other-owner"
    assert client.post(url, data).status_code == 302
    agent.refresh_from_db()
    assert agent.name == "Renamed"
    assert set(agent.owners.values_list("username", flat=True)) == {"owner", "other-owner"}
    client.force_login(reviewers["iam"][0])
    assert client.post(url, data).status_code == 403


def test_a_reviewer_is_not_offered_and_is_refused_registration(client, reviewers):
    client.force_login(reviewers[Dimension.IAM][0])
    assert reverse("agent-new").encode() not in client.get(reverse("agent-list")).content
    response = client.post(reverse("agent-new"), {"slug": "x"})
    assert response.status_code == 403


def problems_listed(html: str) -> str:
    """Return the list of a refused form's problems on the page."""
    [listed] = re.findall(r'<div[^>]*data-testid="form-errors".*?</div>', html, re.S)
    return listed


def test_a_refused_form_lists_its_problems_above_it_linked_to_their_fields(client, owner):
    client.force_login(owner)
    data = {"slug": "new-bot", "name": "", "description": "Answers questions."}

    html = client.post(reverse("agent-new"), data).content.decode()

    summary = problems_listed(html)
    assert 'role="alert"' in summary
    assert "Not saved: 4 problems." in summary
    linked = re.findall(r'<li><a href="#(\w+)">([^<]+)</a>: ', summary)
    assert [anchor for anchor, _ in linked] == [
        "id_name",
        "id_deployment",
        "id_workload_id",
        "id_log_principal",
    ]
    for anchor, _ in linked:
        assert f'id="{anchor}"' in html


def test_a_problem_of_a_group_of_boxes_is_named_in_the_list(client, owner):
    client.force_login(owner)

    html = client.post(reverse("token-list"), {"name": "ci", "days": "30"}).content.decode()

    assert "<li>Scopes: This field is required.</li>" in problems_listed(html)


@pytest.mark.parametrize("page", ["agent-new", "agent-edit", "token-list"])
def test_a_form_declares_its_fields_in_the_order_its_page_shows_them(client, owner, agent, page):
    """The list of a refused form's problems follows the form's order: the page's."""
    client.force_login(owner)
    response = client.get(reverse(page, args=[agent.slug] if page == "agent-edit" else []))
    html = response.content.decode()

    form = response.context["form"]
    shown = [html.index(f'name="{name}"') for name in form.fields]
    assert shown == sorted(shown), list(form.fields)
