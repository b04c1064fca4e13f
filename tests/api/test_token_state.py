"""A token's state has one definition (`tokens.models.token_state`): what authentication
answers a use of it, and what the tokens page, the admin, the token API and `manage.py
token list` show. A deactivated user's tokens are shown refused, not active, and are not
revoked: reactivating the user makes them usable again."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from agents.membership import Source, user_flags_set
from audit.actors import Actor
from tests.api.test_tokens_api import signed_in
from tests.web.dom import parse
from tokens.api.serializers import TokenSerializer
from tokens.models import ApiToken, TokenState
from tokens.services import token_revoke

pytestmark = pytest.mark.django_db

AGENTS = "/api/v1/agents"
STAFF = Actor.system("staff")
# What a use of a token in each state is answered: its status and error code.
ANSWERED = {
    TokenState.ACTIVE: (200, None),
    TokenState.REVOKED: (401, "token_revoked"),
    TokenState.EXPIRED: (401, "token_expired"),
    TokenState.USER_INACTIVE: (401, "user_inactive"),
}


@pytest.fixture
def superuser(staff):
    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    return staff


def put_in(state: TokenState, token: ApiToken) -> None:
    """Bring the token into `state` the way it happens: a revocation, time, a deactivation."""
    if state == TokenState.REVOKED:
        token_revoke(actor=STAFF, token=token)
    elif state == TokenState.EXPIRED:
        ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(1))
    elif state == TokenState.USER_INACTIVE:
        user_flags_set(token.user, actor=STAFF, source=Source.COMMAND, is_active=False)


def answered(secret: str) -> tuple[int, str | None]:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = client.get(AGENTS)
    code = response.json()["error"]["code"] if response.status_code != 200 else None
    return response.status_code, code


def admin_row(client, token: ApiToken):
    listing = parse(client.get("/admin/tokens/apitoken/").content)
    (row,) = [tr for tr in listing.find_all("tr") if token.prefix in tr.text()]
    return row.find("td", class_="field-state").text()


@pytest.mark.parametrize("state", list(TokenState))
def test_every_place_shows_the_state_authentication_answers(
    client, superuser, make_token, owner, state
):
    token, secret = make_token(owner, name="pipeline")
    put_in(state, token)
    token = ApiToken.objects.select_related("user").get(pk=token.pk)

    assert token.state() == state
    assert answered(secret) == ANSWERED[state]
    assert TokenSerializer(token).data["state"] == state.value
    listing = StringIO()
    call_command("token", "list", stdout=listing)
    assert listing.getvalue().split("\t")[:3] == [token.prefix, state.value, "owner"]
    client.force_login(superuser)
    assert admin_row(client, token) == state.label
    change = parse(client.get(f"/admin/tokens/apitoken/{token.pk}/change/").content)
    assert state.label in change.find("div", class_="field-state").text()


def test_a_deactivated_users_tokens_are_shown_refused_and_come_back_on_reactivation(
    client, superuser, make_token, owner, audit_since
):
    token, secret = make_token(owner, name="pipeline")
    client.force_login(superuser)
    assert admin_row(client, token) == "Active"
    since = audit_since()

    user_flags_set(owner, actor=STAFF, source=Source.COMMAND, is_active=False)

    # The deactivation revokes nothing: its only event is the deactivation's.
    assert [event.action for event in since()] == ["user.active_changed"]
    token.refresh_from_db()
    assert token.revoked_at is None
    assert admin_row(client, token) == "Refused: user deactivated"
    assert answered(secret) == (401, "user_inactive")

    user_flags_set(owner, actor=STAFF, source=Source.COMMAND, is_active=True)

    assert admin_row(client, token) == "Active"
    assert answered(secret) == (200, None)


def test_the_tokens_page_and_the_api_list_show_each_tokens_state(make_token, owner):
    states = [TokenState.ACTIVE, TokenState.REVOKED, TokenState.EXPIRED]
    tokens = {}
    for state in states:
        token, _ = make_token(owner, name=f"t-{state.value}")
        put_in(state, token)
        tokens[token.prefix] = state
    client = signed_in(owner)

    page = parse(client.get("/tokens/").content)
    shown = {}
    for row in page.find("section", aria_labelledby="tokens-title").find_all("tr")[1:]:
        prefix = row.find("div", class_="mono").text()
        badge = row.find("span", class_="badge")
        shown[prefix] = (badge.text(), badge.classes)
    assert shown == {
        prefix: (state.label, {"badge", state.value}) for prefix, state in tokens.items()
    }

    listed = client.get("/api/v1/tokens").json()
    assert {item["prefix"]: item["state"] for item in listed} == {
        prefix: state.value for prefix, state in tokens.items()
    }
