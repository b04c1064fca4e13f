"""The token read that authenticates every API request, held to the ORM's answer."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.actors import Actor
from tokens.models import ApiToken, Scope
from tokens.selectors import RequestToken, token_for_secret
from tokens.services import token_revoke, token_touch

pytestmark = pytest.mark.django_db


def orm_answer(token: ApiToken) -> tuple:
    """What the model says of the token and its user, as the read answers it."""
    token = ApiToken.objects.select_related("user").get(pk=token.pk)
    return token.user, RequestToken(
        pk=token.pk,
        prefix=token.prefix,
        name=token.name,
        scopes=tuple(token.scopes),
        allowed_networks=tuple(token.allowed_networks),
        expires_at=token.expires_at,
        revoked_at=token.revoked_at,
        last_used_at=token.last_used_at,
        bound=token.agents.exists(),
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
    token_touch(token=orm_answer(bound)[1], now=timezone.now() - timedelta(hours=1))
    token_revoke(actor=Actor.system("tests"), token=bound)
    for token, secret in ((plain, plain_secret), (bound, bound_secret)):
        user, read = token_for_secret(secret)
        expected_user, expected = orm_answer(token)
        assert read == expected
        assert (user.pk, user.get_username(), user.is_active, user.is_staff) == (
            expected_user.pk,
            expected_user.get_username(),
            expected_user.is_active,
            expected_user.is_staff,
        )
        assert read.expires_at.tzinfo is not None
    assert token_for_secret(bound_secret)[1].revoked_at is not None
    assert token_for_secret(bound_secret)[1].bound_agent_slugs() == [agent.slug]
    assert token_for_secret(plain_secret)[1].bound_agent_slugs() is None


def test_no_token_is_read_for_a_wrong_secret_or_an_unknown_prefix(make_token, owner):
    token, secret = make_token(owner, Scope.GATE_CHECK)
    assert token_for_secret(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert token_for_secret("cs_00000000_" + "x" * 43) is None
    assert token_for_secret("not-a-token") is None
    assert token_for_secret(secret) is not None


def test_the_user_read_with_the_token_carries_none_of_its_columns(make_token, owner):
    token, secret = make_token(owner, Scope.GATE_CHECK)
    user, _ = token_for_secret(secret)
    assert not [name for name in vars(user) if name.startswith("token_")]
