"""The API tokens page: create a bound token (secret shown once), refusals by field, revoke."""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from audit.actors import Actor
from tests.factories import AgentFactory
from tokens.models import ApiToken, Scope
from tokens.services import not_bindable_message, token_hash, token_revoke

pytestmark = pytest.mark.django_db

PAGE = "/tokens/"


@pytest.fixture
def other_team_agent(other_owner):
    return AgentFactory(slug="hr-policy-copilot", team="people", owners=[other_owner])


def test_the_page_offers_the_roles_scopes_and_the_owners_agents(
    client, owner, agent, other_team_agent
):
    client.force_login(owner)
    response = client.get(PAGE)
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    form = response.context["form"]
    offered = [value for value, _ in form.fields["scopes"].choices]
    assert offered == [
        Scope.GATE_CHECK,
        Scope.AGENTS_READ,
        Scope.PACKAGES_WRITE,
        Scope.OBSERVATIONS_WRITE,
        Scope.COMMENTS_WRITE,
        Scope.DECISIONS_EVALUATE,
    ]
    assert list(response.context["matches"].object_list) == [agent]
    page = response.content.decode()
    assert f'<span class="mono">{agent.slug}</span>' in page
    assert "hr-policy-copilot" not in page
    assert f'href="{PAGE}" aria-current="page"' in page
    assert "You have no API tokens." in page


def test_an_owner_creates_a_bound_token_and_sees_its_secret_once(client, owner, agent, audit_since):
    AgentFactory(slug="second-agent", owners=[owner])
    client.force_login(owner)
    since = audit_since()
    response = client.post(
        PAGE,
        {"name": "runtime", "scopes": [Scope.OBSERVATIONS_WRITE], "agents": agent.slug, "days": 30},
    )
    assert response.status_code == 200
    secret = response.context["secret"]
    token = ApiToken.objects.get()
    assert token.key_hash == token_hash(secret)
    assert list(token.agents.all()) == [agent]
    page = response.content.decode()
    assert secret in page and "shown only on this page" in page
    (event,) = since()
    assert (event.action, event.actor_label) == ("token.created", "owner")
    assert event.after["agents"] == [agent.slug]
    listing = client.get(PAGE).content.decode()
    assert token.prefix in listing and secret not in listing
    runtime = APIClient()
    runtime.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    item = {"kind": "tool", "identifier": "kb-search", "access": "read"}
    for slug, status in ((agent.slug, 202), ("second-agent", 404)):
        url = f"/api/v1/agents/{slug}/observations"
        assert runtime.post(url, {"items": [item]}, format="json").status_code == status


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "", "scopes": [Scope.GATE_CHECK], "days": 30}, "name"),
        ({"name": "x", "scopes": [Scope.REVIEWS_WRITE], "days": 30}, "scopes"),
        ({"name": "x", "scopes": [Scope.GATE_CHECK], "days": 400}, "days"),
        ({"name": "x", "scopes": [Scope.GATE_CHECK], "days": 30, "agents": "foreign"}, "agents"),
    ],
)
def test_a_refused_token_shows_the_field_and_creates_nothing(
    client, owner, other_team_agent, audit_since, data, field
):
    if data.get("agents") == "foreign":
        data = {**data, "agents": other_team_agent.slug}
    client.force_login(owner)
    since = audit_since()
    response = client.post(PAGE, data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert 'class="field has-error' in response.content.decode()
    assert not ApiToken.objects.exists()
    assert since() == []


def test_revoking_from_the_page(client, owner, other_owner, make_token, audit_since):
    mine, _ = make_token(owner, Scope.GATE_CHECK, name="pipeline")
    theirs, _ = make_token(other_owner, Scope.GATE_CHECK, name="theirs")
    client.force_login(owner)
    page = client.get(PAGE).content.decode()
    assert "pipeline" in page and "theirs" not in page
    revoke = reverse("token-revoke", args=[mine.prefix])
    assert client.get(revoke).status_code == 405
    assert client.post(reverse("token-revoke", args=[theirs.prefix])).status_code == 404
    since = audit_since()
    response = client.post(revoke, follow=True)
    assert response.status_code == 200
    assert f"Token {mine.prefix} (pipeline) revoked." in response.content.decode()
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None
    (event,) = since()
    assert (event.action, event.actor_label) == ("token.revoked", "owner")
    again = client.post(revoke, follow=True)
    assert "already revoked" in again.content.decode()
    assert since() == [event]


def test_revoking_a_token_not_on_the_page_is_a_404_that_changes_nothing(
    client, owner, other_owner, make_token, audit_since
):
    theirs, _ = make_token(other_owner, Scope.GATE_CHECK, name="theirs")
    gone, _ = make_token(other_owner, Scope.GATE_CHECK, name="gone")
    token_revoke(actor=Actor.system("tests"), token=gone)
    client.force_login(owner)
    since = audit_since()
    # Another user's token, active or revoked, and a well-formed prefix of no token.
    for prefix in (theirs.prefix, gone.prefix, "cs_00000000"):
        assert not ApiToken.objects.filter(user=owner, prefix=prefix).exists()
        assert client.post(reverse("token-revoke", args=[prefix])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    assert since() == []


@pytest.mark.parametrize("prefix", ["%00", "cs_ABCDEF12", "x" * 300])
def test_revoking_a_path_naming_no_prefix_is_a_404_without_a_token_query(
    client, owner, make_token, audit_since, prefix
):
    mine, _ = make_token(owner, Scope.GATE_CHECK)
    client.force_login(owner)
    since = audit_since()
    with CaptureQueriesContext(connection) as queries:
        response = client.post(f"/tokens/{prefix}/revoke/")
    assert response.status_code == 404
    assert not [q for q in queries if ApiToken._meta.db_table in q["sql"]]
    assert since() == []
    mine.refresh_from_db()
    assert mine.revoked_at is None


def test_the_forms_need_the_csrf_token(owner, agent):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    page = client.get(PAGE).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = {"name": "ci", "scopes": [Scope.GATE_CHECK], "days": 30}
    assert client.post(PAGE, data).status_code == 403
    assert not ApiToken.objects.exists()
    assert client.post(PAGE, {**data, "csrfmiddlewaretoken": csrf}).status_code == 200
    assert ApiToken.objects.count() == 1


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_the_list_query_count_does_not_grow_with_tokens(client, owner, agent, make_token):
    client.force_login(owner)
    make_token(owner, Scope.GATE_CHECK, agents=[agent])
    client.get(PAGE)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(PAGE).status_code == 200
        return len(queries)

    before = count()
    for n in range(4):
        second = AgentFactory(slug=f"more-{n}", owners=[owner])
        make_token(owner, Scope.GATE_CHECK, name=f"t{n}", agents=[agent, second])
    assert count() == before


def test_every_slug_is_checked_and_a_refusal_names_the_field_and_the_slug(
    client, owner, agent, other_team_agent, audit_since
):
    client.force_login(owner)
    since = audit_since()
    typed = f"{agent.slug}, no-such-agent {other_team_agent.slug}\nbad/slug {agent.slug}"
    data = {"name": "ci", "scopes": [Scope.GATE_CHECK], "days": 30, "agents": typed}
    response = client.post(PAGE, data)
    assert response.status_code == 400
    assert response.context["form"].errors["agents"] == [
        not_bindable_message(["no-such-agent", other_team_agent.slug, "bad/slug"])
    ]
    page = response.content.decode()
    # What was typed comes back to be corrected.
    assert 'value="support-assistant, no-such-agent hr-policy-copilot' in page
    assert not ApiToken.objects.exists()
    assert since() == []
    both = AgentFactory(slug="second-agent", owners=[owner])
    data["agents"] = f" {both.slug},{agent.slug} {both.slug}"
    assert client.post(PAGE, data).status_code == 200
    bound = ApiToken.objects.get().agents.values_list("slug", flat=True)
    assert sorted(bound) == sorted([agent.slug, both.slug])


def test_too_many_slugs_are_refused(client, owner, agent):
    client.force_login(owner)
    slugs = " ".join(f"agent-{n}" for n in range(101))
    data = {"name": "ci", "scopes": [Scope.GATE_CHECK], "days": 30, "agents": slugs}
    response = client.post(PAGE, data)
    assert response.status_code == 400
    assert response.context["form"].errors["agents"] == ["At most 100 agents (101 given)."]
    assert not ApiToken.objects.exists()


def test_the_bindable_agents_are_searched_a_page_at_a_time(client, owner, staff, agent):
    for n in range(25):
        AgentFactory(slug=f"fleet-{n:02}", name=f"Fleet {n}", owners=[owner])
    client.force_login(owner)
    headers = {"HX-Request": "true"}

    def search(q):
        client.get(PAGE, {"q": q}, headers=headers)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(PAGE, {"q": q}, headers=headers)
        assert response.status_code == 200
        html = response.content.decode()
        assert "<html" not in html
        return len(queries), re.findall(r'<span class="mono">([^<]+)</span>', html), html

    few, slugs, _ = search("support")
    assert slugs == [agent.slug]
    many, slugs, html = search("fleet")
    assert slugs == [f"fleet-{n:02}" for n in range(20)]
    assert "The first 20 of 25 agents: search to narrow them." in html
    assert few == many
    assert search("fleet-2")[1] == ["fleet-20", "fleet-21", "fleet-22", "fleet-23", "fleet-24"]
    assert "No agent you may bind matches." in search("nothing-like-it")[2]
    # A search no filter can read is named and left out, never taken for one matching nothing.
    _, slugs, html = search("a\x00b")
    assert "Null characters are not allowed." in html and len(slugs) == 20
    # Without htmx the search comes back as the whole page.
    page = client.get(PAGE, {"q": "fleet-1"}).content.decode()
    assert 'value="fleet-1"' in page and "fleet-10" in page and "fleet-02" not in page
