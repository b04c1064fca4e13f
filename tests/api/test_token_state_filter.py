"""The admin's token list filters by state with the one definition of a token's state
(`tokens.models.token_state`): for every state, the filter lists exactly the tokens whose
State column shows that state, in as many queries however many tokens it lists."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.membership import Source, user_flags_set
from tests.api.test_token_state import STAFF, put_in
from tests.factories import UserFactory
from tests.web.dom import parse
from tokens.models import ApiToken, TokenState

pytestmark = pytest.mark.django_db

LIST = "/admin/tokens/apitoken/"


def make_in_every_state(make_token, owner, other_owner) -> dict:
    """Return {prefix: state shown} of a token in each state of an active user's, and a
    revoked, an expired and a live token of a deactivated user's."""
    made = []
    for state in (TokenState.ACTIVE, TokenState.REVOKED, TokenState.EXPIRED):
        for user in (owner, other_owner):
            token, _ = make_token(user, name=f"{user.username}-{state.value}")
            put_in(state, token)
            made.append(token)
    user_flags_set(other_owner, actor=STAFF, source=Source.COMMAND, is_active=False)
    return {
        token.prefix: token.state()
        for token in ApiToken.objects.select_related("user").filter(pk__in=[t.pk for t in made])
    }


@pytest.fixture
def tokens(make_token, owner, other_owner):
    """Return a token in each state of an active user's, and a revoked, an expired and a
    live token of a deactivated user's: a state whose refusal comes first wins."""
    return make_in_every_state(make_token, owner, other_owner)


def listed(response) -> set[str]:
    """Return the prefixes of the tokens an admin list answer shows."""
    return {cell.text() for cell in parse(response.content).find_all("th", class_="field-prefix")}


def test_every_state_is_present(tokens):
    assert set(tokens.values()) == set(TokenState)


@pytest.mark.parametrize("state", list(TokenState))
def test_the_admin_filter_lists_the_tokens_in_that_state(client, staff, tokens, state):
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client.force_login(staff)

    response = client.get(LIST, {"state": state.value})

    assert response.status_code == 200
    assert listed(response) == {prefix for prefix, shown in tokens.items() if shown == state}
    filters = parse(response.content).find("nav", id="changelist-filter")
    assert state.label in filters.text()


def test_an_unknown_state_filters_nothing(client, staff, tokens):
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client.force_login(staff)

    response = client.get(LIST, {"state": "lost"})

    assert response.status_code == 302
    assert response.url.endswith("?e=1")


@pytest.mark.parametrize("state", list(TokenState))
def test_the_queryset_agrees_with_token_state_at_the_moment_of_expiry(tokens, state):
    """At a token's very expiry both definitions call it expired."""
    for token in ApiToken.objects.select_related("user"):
        now = token.expires_at
        chosen = ApiToken.objects.in_state(state, now=now).filter(pk=token.pk).exists()
        assert chosen == (token.state(now) == state), (token.name, state)


@pytest.mark.parametrize("state", list(TokenState))
def test_the_filtered_list_answers_in_as_many_queries_for_more_tokens(
    client, staff, make_token, tokens, state
):
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    client.force_login(staff)

    def counted() -> tuple[int, set[str]]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(LIST, {"state": state.value})
        assert response.status_code == 200
        return len(queries), listed(response)

    few, shown = counted()
    more = {}
    for n in range(3):
        users = [UserFactory(username=f"more-{n}-{i}", groups=["product-owner"]) for i in (1, 2)]
        more |= make_in_every_state(make_token, *users)
    many, shown_after = counted()

    in_state = {prefix for prefix, shown in {**tokens, **more}.items() if shown == state}
    assert shown_after == in_state and len(shown_after) == 4 * len(shown)
    assert many == few
