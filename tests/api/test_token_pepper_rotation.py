"""Rotating TOKEN_PEPPER: tokens made under a pepper in TOKEN_PEPPER_FALLBACKS still work."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.conftest import GATE, check
from tests.environment import read_under
from tokens.models import Scope
from tokens.selectors import token_for_secret

pytestmark = pytest.mark.django_db

OLD_PEPPER = "pepper-before-the-rotation-" + "o1d" * 10
NEW_PEPPER = "pepper-after-the-rotation-" + "n3w" * 10


def rotate(settings, listed: str) -> None:
    """Change TOKEN_PEPPER, with the fallbacks the settings read from `listed`."""
    fallbacks = read_under(
        {"TOKEN_PEPPER_FALLBACKS": listed},
        "settings.COUNTERSIGN['TOKEN_PEPPER_FALLBACKS']",
        cleared="TOKEN_PEPPER_FALLBACKS",
    )
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "TOKEN_PEPPER": NEW_PEPPER,
        "TOKEN_PEPPER_FALLBACKS": fallbacks,
    }


@pytest.fixture
def old_pepper(settings):
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "TOKEN_PEPPER": OLD_PEPPER,
        "TOKEN_PEPPER_FALLBACKS": [],
    }


def test_a_token_of_the_old_pepper_passes_the_gate_while_it_is_a_fallback(
    old_pepper, settings, api, owner, agent, approved
):
    before = api(owner, Scope.GATE_CHECK)
    rotate(settings, f"unrelated-{OLD_PEPPER}, {OLD_PEPPER}")
    after = api(owner, Scope.GATE_CHECK)
    for client in (before, after):
        answer = check(client, agent=agent.slug, digest=approved.digest)
        assert answer["decision"] == "allow"
    # No further read of the database for a token of the old pepper: the same one statement.
    for client in (before, after):
        with CaptureQueriesContext(connection) as queries:
            assert token_for_secret(client.secret).pk == client.token.pk
        assert len(queries) == 1


def test_without_the_fallback_a_token_of_the_old_pepper_is_refused(
    old_pepper, settings, api, owner, agent, approved
):
    before = api(owner, Scope.GATE_CHECK)
    rotate(settings, "")
    response = before.post(GATE, {"agent": agent.slug, "digest": approved.digest}, format="json")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    after = api(owner, Scope.GATE_CHECK)
    assert check(after, agent=agent.slug, digest=approved.digest)["decision"] == "allow"
