"""The admin's Revoke action: each token revoked with its event, and the message names
which were revoked and which not, and why."""

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.test import Client

from agents.membership import Source, user_flags_set
from audit.actors import Actor
from audit.models import AuditEvent
from tests.concurrency import chain_held, queued
from tests.factories import UserFactory
from tokens.models import ApiToken, Scope
from tokens.services import token_revoke

LISTING = "/admin/tokens/apitoken/"


def _admin():
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


def _revoke(client, tokens):
    return client.post(LISTING, {"action": "revoke", "_selected_action": [t.pk for t in tokens]})


def _said(response) -> list[tuple[int, str]]:
    return [(m.level, m.message) for m in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_the_message_names_the_tokens_revoked_and_those_not(client, owner, make_token, audit_since):
    admin = _admin()
    first, _ = make_token(owner, Scope.GATE_CHECK, name="first")
    gone, _ = make_token(owner, Scope.GATE_CHECK, name="gone")
    last, _ = make_token(owner, Scope.GATE_CHECK, name="last")
    token_revoke(actor=Actor.system("tests"), token=gone)
    client.force_login(admin)
    since = audit_since()
    response = _revoke(client, [first, gone, last])
    assert response.status_code == 302
    assert _said(response) == [
        (messages.SUCCESS, f"Revoked 2 tokens: {first.prefix} (first), {last.prefix} (last)."),
        (
            messages.WARNING,
            f"Token {gone.prefix} (gone) not revoked: The token is already revoked.",
        ),
    ]
    events = since()
    assert [(e.action, e.actor_label, e.target_id) for e in events] == [
        ("token.revoked", "admin", str(first.pk)),
        ("token.revoked", "admin", str(last.pk)),
    ]
    assert not ApiToken.objects.filter(revoked_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_a_refused_revocation_is_said_and_leaves_nothing(owner, make_token, audit_since):
    admin = _admin()
    token, _ = make_token(owner, Scope.GATE_CHECK, name="pipeline")
    client = Client()
    client.force_login(admin)
    since = audit_since()
    answered = []
    # The withdrawal of the administrator's staff status holds their row and waits for the
    # chain's lock; the action, past the admin's check of the request's user, waits for that
    # row and reads the withdrawal once it has it.
    with chain_held() as held:
        errors = queued(
            held,
            lambda: user_flags_set(
                admin, actor=Actor.system("tests"), source=Source.COMMAND, is_staff=False
            ),
            lambda: answered.append(_revoke(client, [token])),
        )
    assert not errors, errors
    [response] = answered
    assert response.status_code == 302
    assert _said(response) == [
        (
            messages.WARNING,
            f"Token {token.prefix} (pipeline) not revoked: Token {token.prefix} is revoked by "
            f"its user, {owner.username}, or by staff.",
        )
    ]
    token.refresh_from_db()
    assert token.revoked_at is None
    assert [e.action for e in since()] == ["user.staff_changed"]
    assert not AuditEvent.objects.filter(action="token.revoked").exists()


@pytest.mark.django_db
def test_a_token_that_left_the_filtered_list_since_it_was_selected_is_named(
    client, owner, make_token, audit_since
):
    """The list shown filtered to active tokens: one revoked meanwhile is no longer among
    them when the action runs, and is still the one chosen."""
    admin = _admin()
    gone, _ = make_token(owner, Scope.GATE_CHECK, name="gone")
    kept, _ = make_token(owner, Scope.GATE_CHECK, name="kept")
    token_revoke(actor=Actor.system("tests"), token=gone)  # after the page was shown
    client.force_login(admin)
    since = audit_since()
    response = client.post(
        f"{LISTING}?state=active", {"action": "revoke", "_selected_action": [gone.pk, kept.pk]}
    )
    assert response.status_code == 302
    assert _said(response) == [
        (messages.SUCCESS, f"Revoked 1 token: {kept.prefix} (kept)."),
        (
            messages.WARNING,
            f"Token {gone.prefix} (gone) not revoked: The token is already revoked.",
        ),
    ]
    assert [(e.action, e.target_id) for e in since()] == [("token.revoked", str(kept.pk))]
