"""Signing in through the provider: the flow, the rights the mapping gives, and their renewal."""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from agents.membership import Source, user_flags_set
from agents.models import Agent, Team
from audit.actors import SESSION_KEY, Actor, AuthMethod
from audit.models import AuditEvent
from identity.models import ProviderIdentity
from identity.sessions import OIDC_SESSION_KEY
from tests.factories import AgentFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def _groups(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def _events(action: str, user):
    return list(AuditEvent.objects.filter(action=action, target_id=str(user.pk)).order_by("seq"))


def test_sign_in_creates_the_user_with_the_mapped_rights(client, provider, sso):
    TeamFactory(slug="people-ops", name="People operations")
    provider.user_set(
        "sub-olivia",
        email="olivia@example.com",
        preferred_username="olivia",
        groups=["cs-people", "cs-iam", "unmapped"],
    )

    answer = sso("sub-olivia", next_url="/agents/")

    assert answer.status_code == 302 and answer["Location"] == "/agents/"
    user = get_user_model().objects.get(username="olivia")
    assert user.email == "olivia@example.com"
    assert not user.has_usable_password()
    assert _groups(user) == {"product-owner", "iam"}
    assert not user.is_staff
    assert list(user.teams.values_list("slug", flat=True)) == ["people-ops"]
    link = ProviderIdentity.objects.get(user=user)
    assert (link.issuer, link.subject) == (provider.url, "sub-olivia")
    # The session is the user's, and remembers the provider's sign-in.
    assert client.get("/agents/").status_code == 200
    session = client.session
    assert session[SESSION_KEY]["method"] == AuthMethod.OIDC
    assert abs(session[SESSION_KEY]["at"] - time.time()) < 60
    assert session[OIDC_SESSION_KEY]["sub"] == "sub-olivia"
    [groups] = _events("user.groups_changed", user)
    assert groups.actor_type == "system"
    assert groups.data == {
        "user": "olivia",
        "added": ["iam", "product-owner"],
        "removed": [],
        "source": "oidc",
    }
    [teams] = _events("user.teams_changed", user)
    assert teams.data["added"] == ["people-ops"] and teams.data["source"] == "oidc"


def test_the_authorization_request_uses_pkce_and_a_nonce(client, sso, provider):
    provider.user_set("sub-pkce", preferred_username="pkce-user")
    sso("sub-pkce")
    params = sso.authorization
    assert params["response_type"] == ["code"]
    assert params["code_challenge_method"] == ["S256"]
    assert len(params["code_challenge"][0]) >= 43
    assert params["nonce"][0] and params["state"][0]
    assert params["redirect_uri"] == ["http://testserver/oidc/callback/"]
    assert "prompt" not in params


def test_each_sign_in_adds_and_removes_rights(client, provider, sso):
    TeamFactory(slug="people-ops", name="People operations")
    provider.user_set("sub-sam", preferred_username="sam", groups=["cs-security", "cs-people"])
    sso("sub-sam")
    user = get_user_model().objects.get(username="sam")
    assert _groups(user) == {"security", "product-owner"}
    client.logout()

    provider.user_set("sub-sam", preferred_username="sam", groups=["cs-pam", "cs-admins"])
    sso("sub-sam")

    user.refresh_from_db()
    assert _groups(user) == {"pam"}
    assert user.is_staff
    assert not user.teams.exists()
    last = _events("user.groups_changed", user)[-1]
    assert last.data["added"] == ["pam"]
    assert _events("user.staff_changed", user)[-1].after == {"is_staff": True}
    assert last.data["removed"] == ["product-owner", "security"]
    assert _events("user.teams_changed", user)[-1].data["removed"] == ["people-ops"]


def test_teams_the_mapping_does_not_name_are_left_alone(client, provider, sso):
    provider.user_set("sub-tina", preferred_username="tina", groups=[])
    sso("sub-tina")
    user = get_user_model().objects.get(username="tina")
    other = TeamFactory(slug="payments", name="Payments", members=[user])
    client.logout()
    sso("sub-tina")
    assert list(user.teams.all()) == [other]


def test_a_lost_group_is_lost_at_the_next_request(client, provider, sso, settings, workflow):
    provider.user_set("sub-ivan", preferred_username="ivan", groups=["cs-iam"])
    sso("sub-ivan")
    user = get_user_model().objects.get(username="ivan")
    assert _groups(user) == {"iam"}
    provider.user_set("sub-ivan", preferred_username="ivan", groups=[])
    settings.OIDC_RENEW_SECONDS = 0

    answer = client.get("/agents/")

    assert answer.status_code == 200
    assert _groups(user) == set()
    assert answer.context["user"].groups.count() == 0
    assert _events("user.groups_changed", user)[-1].data["removed"] == ["iam"]


def test_a_user_disabled_at_the_provider_is_signed_out_and_cannot_sign_in(
    client, provider, sso, settings
):
    provider.user_set("sub-dora", preferred_username="dora", groups=["cs-iam"])
    sso("sub-dora")
    provider.user_disable("sub-dora")
    settings.OIDC_RENEW_SECONDS = 0

    answer = client.get("/agents/")

    assert answer.status_code == 302 and answer["Location"] == "/login/"
    assert "_auth_user_id" not in client.session
    # The provider refuses the next sign-in: nobody is signed in.
    refused = sso("sub-dora", deny=True)
    assert refused.status_code == 302 and refused["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_an_account_deactivated_here_cannot_sign_in(client, provider, sso):
    provider.user_set("sub-ed", preferred_username="ed")
    sso("sub-ed")
    client.logout()
    get_user_model().objects.filter(username="ed").update(is_active=False)
    answer = sso("sub-ed")
    assert answer["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


def test_an_account_deactivated_here_ends_its_session_before_the_renewal(
    client, provider, sso, settings, staff
):
    settings.OIDC_RENEW_SECONDS = 600
    provider.user_set("sub-olga", preferred_username="olga", groups=["cs-people"])
    sso("sub-olga")
    user = get_user_model().objects.get(username="olga")
    agent = AgentFactory(slug="olgas-agent", team="people-ops", owners=[user])
    assert client.get("/agents/olgas-agent/").status_code == 200
    user_flags_set(user, actor=Actor.for_user(staff), source=Source.ADMIN, is_active=False)

    page = client.get("/agents/olgas-agent/")
    edit = client.post(
        "/agents/olgas-agent/edit/",
        {"name": "Renamed by a deactivated user", "team": agent.team.slug, "owners": "olga"},
    )

    assert page.status_code == 302 and page["Location"].startswith("/login/")
    assert edit.status_code == 302 and edit["Location"].startswith("/login/")
    assert Agent.objects.get(pk=agent.pk).name == agent.name
    assert not AuditEvent.objects.filter(action="agent.updated").exists()


def test_a_local_account_is_never_taken_over(client, provider, sso):
    UserFactory(username="admin", is_staff=True)
    provider.user_set("sub-mallory", preferred_username="admin", groups=["cs-admins"])

    answer = sso("sub-mallory")

    assert answer["Location"] == "/login/"
    assert "_auth_user_id" not in client.session
    assert not ProviderIdentity.objects.exists()
    page = client.get("/login/")
    assert "belongs to another account" in page.content.decode()


@pytest.mark.parametrize(
    "username", ["\uff41\uff44\uff4d\uff49\uff4e", "\uff21\uff24\uff2d\uff29\uff2e"]
)
def test_a_name_that_is_a_local_accounts_once_normalised_is_refused_too(
    client, provider, sso, username
):
    UserFactory(username="admin", is_staff=True)
    provider.user_set("sub-mallory", preferred_username=username)  # full-width letters

    answer = sso("sub-mallory")

    assert answer.status_code == 302 and answer["Location"] == "/login/"
    assert "_auth_user_id" not in client.session
    assert not ProviderIdentity.objects.exists()
    assert "belongs to another account" in client.get("/login/").content.decode()


def test_sign_out_ends_the_session_at_the_provider_too(client, provider, sso):
    provider.user_set("sub-lou", preferred_username="lou")
    sso("sub-lou")
    id_token = client.session[OIDC_SESSION_KEY]["id_token"]
    answer = client.post("/logout/")
    assert answer.status_code == 302
    assert answer["Location"].startswith(f"{provider.url}/oauth2/end_session?")
    assert f"id_token_hint={id_token}" in answer["Location"]
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Flogin%2F" in answer["Location"]
    assert "_auth_user_id" not in client.session


def test_the_login_page_offers_single_sign_on_when_configured(client, provider):
    page = client.get("/login/").content.decode()
    assert "Sign in with Test IdP" in page and 'name="password"' in page


def _refusal_shown(client, **query) -> str:
    answer = client.get("/oidc/callback/", {"error": "access_denied", **query})
    assert answer.status_code == 302 and answer["Location"] == "/login/"
    [message] = [str(m) for m in client.get("/login/").context["messages"]]
    return message


def test_the_sign_in_page_shows_only_the_providers_own_words_of_a_refusal(client, provider):
    forged = "Your account is locked. Call the help desk at +1 555 0100."
    generic = "Single sign-on failed: the sign-in was not completed"
    # Anyone may link to the callback: words of their own are not the site's.
    assert _refusal_shown(client, error_description=forged) == generic
    assert _refusal_shown(client, error_description=forged, state="made-up") == generic
    # The provider answers a sign-in this browser started with its state.
    start = client.get("/oidc/authenticate/")
    [state] = parse_qs(urlsplit(start["Location"]).query)["state"]
    words = "The resource owner denied the request"
    assert _refusal_shown(client, error_description=words, state=state) == (
        f"Single sign-on failed: {words}"
    )


def test_a_link_to_the_callback_with_an_error_signs_nobody_out(client, provider):
    """Only the provider's error answer to this browser's own sign-in ends its session."""
    user = UserFactory(username="signed-in")
    client.force_login(user)
    for state in ("made-up", None):
        query = {"error": "access_denied", "state": state} if state else {"error": "x"}
        assert client.get("/oidc/callback/", query).status_code == 302
        assert client.session.get("_auth_user_id") == str(user.pk)
    start = client.get("/oidc/authenticate/")
    [state] = parse_qs(urlsplit(start["Location"]).query)["state"]
    client.get("/oidc/callback/", {"error": "access_denied", "state": state})
    assert "_auth_user_id" not in client.session


def test_the_login_page_is_as_before_without_oidc(client, settings):
    assert not settings.OIDC_ENABLED
    page = client.get("/login/").content.decode()
    assert "Sign in with" not in page and 'name="password"' in page
    assert client.get("/oidc/authenticate/").status_code == 404


def test_a_team_named_but_missing_is_skipped(client, provider, sso):
    provider.user_set("sub-pat", preferred_username="pat", groups=["cs-people"])
    sso("sub-pat")
    user = get_user_model().objects.get(username="pat")
    assert _groups(user) == {"product-owner"}
    assert not Team.objects.exists()


def test_an_email_changed_at_the_provider_is_an_audited_change(client, provider, sso):
    provider.user_set("sub-nina", preferred_username="nina", email="nina@old.example.com")
    sso("sub-nina")
    user = get_user_model().objects.get(username="nina")
    assert _events("user.email_changed", user) == []
    client.logout()

    provider.user_set("sub-nina", preferred_username="nina", email="nina@new.example.com")
    sso("sub-nina")

    user.refresh_from_db()
    assert user.email == "nina@new.example.com"
    [changed] = _events("user.email_changed", user)
    assert changed.actor_type == "system" and changed.actor_label == "single sign-on"
    assert changed.before == {"email": "nina@old.example.com"}
    assert changed.after == {"email": "nina@new.example.com"}
    assert changed.data == {"user": "nina", "source": "oidc"}
    # The same address again changes nothing and records nothing.
    client.logout()
    sso("sub-nina")
    assert len(_events("user.email_changed", user)) == 1
