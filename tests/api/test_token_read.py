"""The token read that authenticates every API request, held to the ORM's answer."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.actors import Actor
from tokens.authentication import token_user
from tokens.models import ApiToken, Scope
from tokens.selectors import RequestToken, token_for_secret
from tokens.services import token_revoke, token_touch

pytestmark = pytest.mark.django_db


def orm_answer(token: ApiToken) -> RequestToken:
    """What the model says of the token and its user, as the read answers it."""
    token = ApiToken.objects.select_related("user").get(pk=token.pk)
    return RequestToken(
        pk=token.pk,
        prefix=token.prefix,
        name=token.name,
        scopes=tuple(token.scopes),
        allowed_networks=tuple(token.allowed_networks),
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
        bound=token.agents.exists(),
        user_id=token.user.pk,
        username=token.user.get_username(),
        user_active=token.user.is_active,
        user_staff=token.user.is_staff,
        user_superuser=token.user.is_superuser,
    )


def test_the_read_answers_what_the_model_holds(make_token, owner, agent):
    plain, plain_secret = make_token(owner, Scope.GATE_CHECK)
    bound, bound_secret = make_token(
        owner,
        Scope.GATE_CHECK,
        Scope.AGENTS_READ,
        name="bound",
        agents=[agent],
        allowed_networks=["10.0.0.0/8", "2001:db8::/32"],
        expires_in=timedelta(days=3),
    )
    token_touch(token=orm_answer(bound), now=timezone.now() - timedelta(hours=1))
    token_revoke(actor=Actor.system("tests"), token=bound)
    for token, secret in ((plain, plain_secret), (bound, bound_secret)):
        read = token_for_secret(secret)
        assert read == orm_answer(token)
        assert read.expires_at.tzinfo is not None
    assert token_for_secret(bound_secret).revoked_at is not None
    assert token_for_secret(bound_secret).bound_agent_slugs() == [agent.slug]
    assert token_for_secret(plain_secret).bound_agent_slugs() is None


def test_an_inactive_users_token_reads_as_such(make_token, owner):
    token, secret = make_token(owner, Scope.GATE_CHECK)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert token_for_secret(secret) == orm_answer(token)
    assert token_for_secret(secret).user_active is False


def test_a_staff_superusers_token_reads_as_such(make_token, owner):
    owner.is_staff = owner.is_superuser = True
    owner.save(update_fields=["is_staff", "is_superuser"])
    token, secret = make_token(owner, Scope.GATE_CHECK)
    read = token_for_secret(secret)
    assert read == orm_answer(token)
    assert (read.user_staff, read.user_superuser) == (True, True)


def test_no_token_is_read_for_a_wrong_secret_or_an_unknown_prefix(make_token, owner):
    token, secret = make_token(owner, Scope.GATE_CHECK)
    assert token_for_secret(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert token_for_secret("cs_00000000_" + "x" * 43) is None
    assert token_for_secret("not-a-token") is None
    assert token_for_secret(secret) is not None


def test_the_tokens_user_is_loaded_when_first_used_and_is_the_tokens(make_token, owner):
    token, secret = make_token(owner, Scope.GATE_CHECK)
    with CaptureQueriesContext(connection) as queries:
        user = token_user(token_for_secret(secret))
    assert len(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        assert (user.pk, user.get_username(), user.is_active) == (owner.pk, owner.username, True)
        assert user == owner
    assert len(queries) == 1


def _api_views(patterns=None):
    from django.urls import get_resolver

    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _api_views(pattern.url_patterns)
        elif hasattr(pattern.callback, "cls"):
            yield pattern.callback.cls


def test_every_api_view_asks_the_token_whether_a_request_is_authenticated():
    # DRF's own IsAuthenticated would load a token's user on every request.
    from rest_framework import permissions

    drf_check = [
        view.__name__
        for view in _api_views()
        if permissions.IsAuthenticated in getattr(view, "permission_classes", ())
    ]
    assert not drf_check
