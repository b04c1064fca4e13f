"""A stored session names the user signed in to it, whichever way they signed in.

login() cycles the session's key before it records the user; the row the browser
then holds must name them, or a deactivation (agents.membership) would miss it.
"""

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse

from agents.membership import Source, user_flags_set
from audit.actors import Actor
from audit.models import AuditEvent
from tests.web.test_login import sign_in
from tokens.sessions import BrowserSession

pytestmark = pytest.mark.django_db


def _anonymous_session(client) -> str:
    """Give the browser a session before it signs in; return its key."""
    session = client.session
    session["before_sign_in"] = True
    session.save()
    assert BrowserSession.objects.get(session_key=session.session_key).user_id is None
    return session.session_key


def _stored(client) -> dict:
    """Return the user id each stored session names, by key, with the browser's own first."""
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    rows = dict(BrowserSession.objects.values_list("session_key", "user_id"))
    return {"browser": rows.pop(key, "missing"), "others": rows}


def test_a_password_sign_in_cycles_the_key_and_the_new_row_names_the_user(client, owner):
    before = _anonymous_session(client)

    assert sign_in(client, "owner").status_code == 302

    assert _stored(client) == {"browser": owner.pk, "others": {}}
    assert client.session.session_key != before and client.session["before_sign_in"]


def test_another_user_signing_in_through_the_provider_on_that_browser_is_named_instead(
    client, owner, provider, sso
):
    provider.user_set("sub-ines", preferred_username="ines", groups=["cs-people"])
    assert sign_in(client, "owner").status_code == 302

    assert sso("sub-ines").status_code == 302

    ines = get_user_model().objects.get(username="ines")
    assert _stored(client) == {"browser": ines.pk, "others": {}}


def test_signing_out_deletes_the_row(client, owner):
    assert sign_in(client, "owner").status_code == 302
    assert client.post(reverse("logout")).status_code == 302

    assert not BrowserSession.objects.filter(user_id=owner.pk).exists()


def test_a_sign_in_through_the_provider_names_the_user_and_deactivation_ends_it(
    client, provider, sso
):
    provider.user_set("sub-rosa", preferred_username="rosa", groups=["cs-people"])
    before = _anonymous_session(client)

    assert sso("sub-rosa").status_code == 302

    rosa = get_user_model().objects.get(username="rosa")
    assert _stored(client) == {"browser": rosa.pk, "others": {}}
    assert client.session.session_key != before
    user_flags_set(rosa, actor=Actor.system("tests"), source=Source.COMMAND, is_active=False)
    (event,) = AuditEvent.objects.filter(action="user.active_changed")
    assert event.data["sessions_ended"] == 1
    assert not BrowserSession.objects.exists()
