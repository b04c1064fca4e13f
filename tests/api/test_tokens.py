"""Token authentication over HTTP: each refusal, scopes, networks, last_used, the CLI, admin."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from audit.actors import Actor
from audit.models import AuditEvent
from tests.api.conftest import error_of
from tokens.accounts import service_account_get_or_create
from tokens.models import ApiToken, Scope
from tokens.services import token_hash, token_revoke

pytestmark = pytest.mark.django_db

AGENTS = "/api/v1/agents"


def test_token_secret_is_stored_only_as_a_keyed_hash(make_token, owner):
    token, secret = make_token(owner, Scope.GATE_CHECK)
    token.refresh_from_db()
    assert secret.startswith(token.prefix + "_")
    assert token.key_hash == token_hash(secret)
    assert secret not in token.key_hash
    assert len(token.key_hash) == 64
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert not any(secret in str(value) for value in stored.values())


def test_the_audit_trail_names_the_token_never_its_secret(api, owner, agent, audit_since):
    client = api(owner, Scope.PACKAGES_WRITE)
    since = audit_since()
    response = client.patch(f"{AGENTS}/{agent.slug}", {"description": "New."}, format="json")
    assert response.status_code == 200
    (event,) = since()
    assert event.action == "agent.updated"
    assert event.actor_type == "token"
    assert event.actor_label == "owner"
    assert event.token_label == f"token:{client.token.prefix} (ci)"
    assert client.secret not in str(AuditEvent.objects.values().get(pk=event.pk))


def test_no_token_is_401(db):
    response = APIClient().get(AGENTS)
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer cs_00000000_nope",
        "Bearer ",
        "Bearer a b",
        "Bearer cs_\x00\x00\x00\x00\x00\x00\x00\x00_nope",
        "Bearer cs_ABCDEF12_nope",
    ],
)
def test_unknown_or_malformed_token_is_401(db, header):
    response = APIClient().get(AGENTS, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_a_wrong_secret_with_a_real_prefix_is_401(make_token, owner):
    token, secret = make_token(owner)
    forged = secret[:-4] + ("aaaa" if not secret.endswith("aaaa") else "bbbb")
    response = APIClient().get(AGENTS, HTTP_AUTHORIZATION=f"Bearer {forged}")
    assert response.status_code == 401
    assert error_of(response)["code"] == "invalid_token"


def test_expired_token_is_401(api, owner):
    client = api(owner)
    ApiToken.objects.filter(pk=client.token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(AGENTS)
    assert response.status_code == 401
    assert error_of(response)["code"] == "token_expired"


def test_revoked_token_is_401(api, owner, staff, audit_since):
    client = api(owner)
    assert client.get(AGENTS).status_code == 200
    since = audit_since()
    token_revoke(actor=Actor.for_user(staff), token=client.token)
    (event,) = since()
    assert (event.action, event.actor_label) == ("token.revoked", "staff")
    response = client.get(AGENTS)
    assert response.status_code == 401
    assert error_of(response)["code"] == "token_revoked"


def test_inactive_user_token_is_401(api, owner):
    client = api(owner)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    response = client.get(AGENTS)
    assert response.status_code == 401
    assert error_of(response)["code"] == "user_inactive"


def test_allowed_networks_are_checked_against_the_client_address(api, owner):
    client = api(owner, allowed_networks=["10.0.0.0/8", "2001:db8::/32"])
    assert client.get(AGENTS, REMOTE_ADDR="10.20.30.40").status_code == 200
    assert client.get(AGENTS, REMOTE_ADDR="2001:db8::1").status_code == 200
    response = client.get(AGENTS, REMOTE_ADDR="192.0.2.7")
    assert response.status_code == 403
    assert error_of(response)["code"] == "network_not_allowed"


def test_allowed_networks_see_the_client_behind_the_trusted_proxies(api, owner, settings):
    client = api(owner, allowed_networks=["203.0.113.0/24"])
    behind_a_proxy = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5"}
    # Without a trusted proxy the header is the client's own claim: not believed.
    assert client.get(AGENTS, **behind_a_proxy).status_code == 403
    settings.TRUSTED_PROXY_COUNT = 1
    assert client.get(AGENTS, **behind_a_proxy).status_code == 200
    # A client writing its own entry to the left of the proxy's gains nothing.
    spoofed = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.5, 192.0.2.7"}
    assert client.get(AGENTS, **spoofed).status_code == 403


@pytest.mark.parametrize(
    ("scope", "method", "path", "body"),
    [
        (Scope.GATE_CHECK, "post", AGENTS, {}),
        (Scope.AGENTS_READ, "post", "/api/v1/agents/support-assistant/packages", {}),
        (Scope.GATE_CHECK, "get", "/api/v1/agents/support-assistant/packages", {}),
        (Scope.PACKAGES_WRITE, "post", "/api/v1/gate/check", {}),
        (Scope.PACKAGES_WRITE, "post", "/api/v1/agents/support-assistant/observations", {}),
        (Scope.OBSERVATIONS_WRITE, "post", "/api/v1/agents/support-assistant/suspend", {}),
        (
            Scope.PACKAGES_WRITE,
            "post",
            "/api/v1/agents/support-assistant/packages/1/signoffs/iam/decisions",
            {},
        ),
        (Scope.GATE_CHECK, "patch", "/api/v1/agents/support-assistant", {}),
    ],
)
def test_a_token_without_the_scope_is_403(api, owner, agent, scope, method, path, body):
    client = api(owner, scope)
    response = getattr(client, method)(path, body, format="json")
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "insufficient_scope"
    assert "scope" in error["message"]


def test_last_used_is_written_at_most_once_a_minute(api, owner):
    client = api(owner, Scope.AGENTS_READ)
    assert ApiToken.objects.get(pk=client.token.pk).last_used_at is None
    with CaptureQueriesContext(connection) as first:
        client.get(AGENTS)
    used = ApiToken.objects.get(pk=client.token.pk).last_used_at
    assert used is not None
    with CaptureQueriesContext(connection) as second:
        client.get(AGENTS)
    assert ApiToken.objects.get(pk=client.token.pk).last_used_at == used
    assert len(second) == len(first) - 1
    token_queries = [q for q in second.captured_queries if "tokens_apitoken" in q["sql"]]
    assert len(token_queries) == 1
    assert "JOIN" in token_queries[0]["sql"]
    ApiToken.objects.filter(pk=client.token.pk).update(
        last_used_at=timezone.now() - timedelta(minutes=2)
    )
    client.get(AGENTS)
    assert ApiToken.objects.get(pk=client.token.pk).last_used_at > used


def test_manage_py_token_create_list_revoke(owner, audit_since):
    since = audit_since()
    out, err = StringIO(), StringIO()
    call_command(
        "token",
        "create",
        "--user",
        "owner",
        "--name",
        "GitHub Actions",
        "--scope",
        "gate:check",
        "--scope",
        "packages:write",
        "--days",
        "30",
        "--allowed-network",
        "10.0.0.0/8",
        stdout=out,
        stderr=err,
    )
    secret = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert token.key_hash == token_hash(secret)
    assert token.scopes == ["gate:check", "packages:write"]
    assert token.allowed_networks == ["10.0.0.0/8"]
    assert "shown only now" in err.getvalue()
    (event,) = since()
    assert event.action == "token.created" and event.after["prefix"] == token.prefix
    assert secret not in str(event.after)

    listing = StringIO()
    call_command("token", "list", stdout=listing)
    assert token.prefix in listing.getvalue() and "active" in listing.getvalue()
    # When it was made: tokens made before a TOKEN_PEPPER rotation are found by it.
    assert f"created {token.created_at:%Y-%m-%d %H:%M}\t" in listing.getvalue()
    assert secret not in listing.getvalue()

    call_command("token", "revoke", token.prefix, stdout=StringIO())
    token.refresh_from_db()
    assert token.revoked_at is not None
    listing = StringIO()
    call_command("token", "list", "--active", stdout=listing)
    assert token.prefix not in listing.getvalue()
    with pytest.raises(CommandError, match="already revoked"):
        call_command("token", "revoke", token.prefix, stdout=StringIO())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--user", "owner", "--allowed-network", "not-a-network"], "allowed_networks"),
        (["--user", "nobody"], "No user"),
        # A lifetime past any date Python holds raised OverflowError, not this.
        (["--user", "owner", "--days", "0"], "--days must be from 1 to 366"),
        (["--user", "owner", "--days", "367"], "--days must be from 1 to 366"),
        (["--user", "owner", "--days", "1000000000000"], "--days must be from 1 to 366"),
        (["--user", "owner", "--name", "x" * 101], "--name must be at most 100 characters"),
    ],
)
def test_manage_py_token_create_refuses_bad_input(owner, arguments, message):
    with pytest.raises(CommandError, match=message):
        call_command(
            "token",
            "create",
            "--name",
            "x",
            "--scope",
            "gate:check",
            *arguments,
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("u" * 151, "--user must be at most 150 characters"),
        (
            "ci\x1b[2Jbot",
            r"--user: Must not contain control or format characters \(found U\+001B\)",
        ),
        ("ci\u202ebot", r"--user: Must not contain control or format characters \(found U\+202E\)"),
    ],
)
def test_manage_py_token_create_refuses_a_service_account_name_no_user_can_have(
    db, username, message
):
    with pytest.raises(CommandError, match=message):
        call_command(
            "token",
            "create",
            "--user",
            username,
            "--service-account",
            "--name",
            "x",
            "--scope",
            "gate:check",
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not get_user_model().objects.filter(username=username).exists()


def test_admin_creates_a_token_showing_its_secret_once_and_revokes(client, staff):
    staff.is_superuser = True
    staff.save()
    robot = service_account_get_or_create(actor=Actor.system("tests"), username="ci-bot")
    client.force_login(staff)
    expires = (timezone.now() + timedelta(days=10)).strftime("%Y-%m-%d")
    response = client.post(
        "/admin/tokens/apitoken/add/",
        {
            "user": robot.pk,
            "name": "GitLab",
            "scopes": ["gate:check"],
            "expires_at_0": expires,
            "expires_at_1": "12:00:00",
            "allowed_networks": "",
        },
        follow=True,
    )
    assert response.status_code == 200
    token = ApiToken.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    assert any(token.prefix in m and "not shown again" in m for m in shown)
    secret = next(m for m in shown if "not shown again" in m).rsplit(" ", 1)[-1]
    assert token.key_hash == token_hash(secret)
    response = client.post(
        "/admin/tokens/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
        follow=True,
    )
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_manage_py_token_create_for_a_new_service_account(db):
    out, err = StringIO(), StringIO()
    call_command(
        "token",
        "create",
        "--user",
        "ci-runtime",
        "--service-account",
        "--name",
        "runtime",
        "--scope",
        "gate:check",
        "--scope",
        "agents:read",
        stdout=out,
        stderr=err,
    )
    token = ApiToken.objects.select_related("user").get()
    assert token.user.username == "ci-runtime"
    assert not token.user.has_usable_password()
    assert err.getvalue().startswith("Created the service account 'ci-runtime' (no password).\n")
    from audit.models import AuditEvent

    assert list(AuditEvent.objects.values_list("action", flat=True)) == [
        "service_account.created",
        "token.created",
    ]
    response = APIClient().get(AGENTS, HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}")
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_manage_py_token_create_binds_agents(owner, agent, audit_since):
    since = audit_since()
    out, err = StringIO(), StringIO()
    call_command(
        "token",
        "create",
        "--user",
        "owner",
        "--name",
        "pipeline",
        "--scope",
        "gate:check",
        "--agent",
        agent.slug,
        stdout=out,
        stderr=err,
    )
    token = ApiToken.objects.get()
    assert list(token.agents.values_list("slug", flat=True)) == [agent.slug]
    assert f"bound to {agent.slug}" in err.getvalue()
    (event,) = since()
    assert event.after["agents"] == [agent.slug]
    listing = StringIO()
    call_command("token", "list", stdout=listing)
    assert f"agents {agent.slug}" in listing.getvalue()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--scope", "gate:check", "--agent", "no-such-agent"], "No agent 'no-such-agent'"),
        (["--scope", "reviews:write"], "scopes: The user's role does not grant reviews:write"),
    ],
)
def test_manage_py_token_create_refuses_unknown_agents_and_scopes_beyond_the_role(
    owner, agent, arguments, message
):
    with pytest.raises(CommandError, match=message):
        call_command(
            "token",
            "create",
            "--user",
            "owner",
            "--name",
            "x",
            *arguments,
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.filter(action="token.created").exists()
