"""The token API: signed-in users list, create and revoke their own tokens; tokens never do."""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tests.api.conftest import csrf_session, error_of
from tests.factories import AgentFactory
from tokens.models import ApiToken, Scope
from tokens.services import token_hash

pytestmark = pytest.mark.django_db

TOKENS = "/api/v1/tokens"


def signed_in(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_an_owner_creates_a_bound_token_whose_secret_is_answered_once(owner, agent, audit_since):
    since = audit_since()
    client = signed_in(owner)
    response = client.post(
        TOKENS,
        {
            "name": "runtime",
            "scopes": [Scope.OBSERVATIONS_WRITE, Scope.AGENTS_READ],
            "agents": [agent.slug],
            "allowed_networks": ["10.0.0.0/8"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    token = ApiToken.objects.get()
    assert body["prefix"] == token.prefix
    assert body["agents"] == [agent.slug]
    assert body["scopes"] == [Scope.OBSERVATIONS_WRITE, Scope.AGENTS_READ]
    assert token.key_hash == token_hash(body["secret"])
    (event,) = since()
    assert (event.action, event.actor_label, event.actor_type) == ("token.created", "owner", "user")
    assert event.after["agents"] == [agent.slug]
    assert body["secret"] not in str(AuditEvent.objects.values().get(pk=event.pk))
    listed = client.get(TOKENS).json()
    assert [t["prefix"] for t in listed] == [token.prefix]
    assert "secret" not in listed[0] and body["secret"] not in str(listed)
    machine = APIClient()
    machine.credentials(HTTP_AUTHORIZATION=f"Bearer {body['secret']}")
    listed = machine.get("/api/v1/agents", REMOTE_ADDR="10.1.2.3").json()["results"]
    assert [a["slug"] for a in listed] == [agent.slug]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": [Scope.GATE_CHECK]}, "name"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["root:all"]}, "scopes"),
        ({"name": "x", "scopes": [Scope.REVIEWS_WRITE]}, "scopes"),
        ({"name": "x", "scopes": [Scope.AUDIT_READ, Scope.GATE_CHECK]}, "scopes"),
        ({"name": "x", "scopes": [Scope.GATE_CHECK], "agents": ["hr-policy-copilot"]}, "agents"),
        ({"name": "x", "scopes": [Scope.GATE_CHECK], "agents": ["no-such-agent"]}, "agents"),
        ({"name": "x", "scopes": [Scope.GATE_CHECK], "agents": ["bad slug"]}, "agents"),
        ({"name": "x", "scopes": [Scope.GATE_CHECK], "allowed_networks": ["nope"]}, None),
        ({"name": "x", "scopes": [Scope.GATE_CHECK], "expires_at": "2001-01-01T00:00Z"}, None),
        ({"name": "x", "scopes": [Scope.GATE_CHECK], "expires_at": "9999-01-01T00:00Z"}, None),
    ],
)
def test_bad_input_names_the_field_and_creates_nothing(
    owner, agent, other_team_agent, audit_since, body, field
):
    since = audit_since()
    response = signed_in(owner).post(TOKENS, body, format="json")
    assert response.status_code == 400, response.content
    fields = error_of(response)["fields"]
    expected = field or next(iter({"allowed_networks", "expires_at"} & set(body)))
    assert any(name == expected or name.startswith(f"{expected}.") for name in fields), fields
    assert not ApiToken.objects.exists()
    assert since() == []


def test_the_refusals_of_another_teams_agent_and_of_no_agent_read_alike(owner, other_team_agent):
    answers = [
        error_of(
            signed_in(owner).post(
                TOKENS, {"name": "x", "scopes": ["gate:check"], "agents": [slug]}, format="json"
            )
        )["fields"]["agents"]
        for slug in (other_team_agent.slug, "no-such-agent")
    ]
    foreign, unknown = (messages[0] for messages in answers)
    assert unknown.replace("no-such-agent", other_team_agent.slug) == foreign


def test_a_list_naming_another_teams_agent_beside_no_agent_reads_as_two_of_no_agent(
    owner, other_team_agent
):
    """The refusal names every slug the owner may not bind, so no slug left out of it tells
    that an agent has it."""
    answers = [
        error_of(
            signed_in(owner).post(
                TOKENS,
                {"name": "x", "scopes": ["gate:check"], "agents": [slug, "no-such-agent"]},
                format="json",
            )
        )
        for slug in (other_team_agent.slug, "no-agent-either")
    ]
    foreign, unknown = (json.dumps(answer) for answer in answers)
    assert other_team_agent.slug in foreign
    assert unknown.replace("no-agent-either", other_team_agent.slug) == foreign


def test_a_token_manages_no_tokens(api, owner, staff):
    for user in (owner, staff):
        client = api(user)
        prefix = client.token.prefix
        for response in (
            client.get(TOKENS),
            client.post(TOKENS, {"name": "x", "scopes": [Scope.GATE_CHECK]}, format="json"),
            client.post(f"{TOKENS}/{prefix}/revoke", format="json"),
            client.delete(f"{TOKENS}/{prefix}"),
        ):
            assert response.status_code == 403
            assert error_of(response)["code"] == "session_required"
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 2


def test_the_schema_says_the_token_endpoints_take_a_session_only(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    operations = [
        operation
        for path, item in schema["paths"].items()
        if path.startswith(TOKENS)
        for operation in item.values()
    ]
    assert len(operations) == 4
    assert all(operation["security"] == [{"cookieAuth": []}] for operation in operations)


def test_a_body_revoke_cannot_read_is_a_documented_400(client, make_token, owner):
    token, _ = make_token(owner)
    session, csrf = csrf_session(owner)
    response = session.post(
        f"{TOKENS}/{token.prefix}/revoke", "{not json", content_type="application/json", **csrf
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"
    token.refresh_from_db()
    assert token.revoked_at is None
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "400" in schema["paths"][TOKENS + "/{prefix}/revoke"]["post"]["responses"]


@pytest.mark.parametrize("how", ["post", "delete"])
def test_an_owner_revokes_their_token_once_and_nobody_elses(
    make_token, owner, other_owner, audit_since, how
):
    mine, secret = make_token(owner)
    theirs, _ = make_token(other_owner, name="theirs")
    client = signed_in(owner)

    def revoke(token):
        if how == "post":
            return client.post(f"{TOKENS}/{token.prefix}/revoke", format="json")
        return client.delete(f"{TOKENS}/{token.prefix}")

    assert revoke(theirs).status_code == 404
    since = audit_since()
    response = revoke(mine)
    assert response.status_code == 200, response.content
    assert response.json()["revoked_at"] is not None
    (event,) = since()
    assert (event.action, event.actor_label) == ("token.revoked", "owner")
    again = revoke(mine)
    assert again.status_code == 409
    assert error_of(again)["code"] == "already_revoked"
    assert since() == [event]
    theirs.refresh_from_db()
    assert theirs.revoked_at is None
    machine = APIClient()
    machine.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert machine.get("/api/v1/agents").status_code == 401


def test_staff_may_bind_any_agent_and_reviewers_bind_none(reviewers, staff, agent):
    made = signed_in(staff).post(
        TOKENS, {"name": "ops", "scopes": ["gate:check"], "agents": [agent.slug]}, format="json"
    )
    assert made.status_code == 201
    refused = signed_in(reviewers["iam"][0]).post(
        TOKENS, {"name": "x", "scopes": ["reviews:write"], "agents": [agent.slug]}, format="json"
    )
    assert refused.status_code == 400
    assert "agents" in error_of(refused)["fields"]


def test_the_list_is_your_own_tokens_with_their_state(make_token, owner, other_owner):
    make_token(owner, name="old", expires_in=timedelta(days=1))
    make_token(other_owner, name="theirs")
    AgentFactory(slug="unrelated")
    listed = signed_in(owner).get(TOKENS).json()
    assert [t["name"] for t in listed] == ["old"]
    assert listed[0]["agents"] == []
    assert listed[0]["revoked_at"] is None
    assert listed[0]["expires_at"] > timezone.now().isoformat()[:10]


NOT_PREFIXES = ["%00", "cs_%0012345", "cs_ABCDEF12", "cs_1234567", "cs_123456789", "x" * 300]


@pytest.mark.parametrize("prefix", NOT_PREFIXES)
def test_a_path_naming_no_prefix_is_a_404_without_a_token_query(
    make_token, owner, audit_since, prefix
):
    mine, _ = make_token(owner)
    client = signed_in(owner)
    since = audit_since()
    with CaptureQueriesContext(connection) as queries:
        answers = [
            client.post(f"{TOKENS}/{prefix}/revoke", format="json"),
            client.delete(f"{TOKENS}/{prefix}"),
        ]
    for response in answers:
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
    assert not [q for q in queries if ApiToken._meta.db_table in q["sql"]]
    assert since() == []
    mine.refresh_from_db()
    assert mine.revoked_at is None
