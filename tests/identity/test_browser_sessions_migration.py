"""Upgrading to the sessions that name their user: the previous engine's sessions go.

`tokens 0007` empties `django_session`, which nothing reads after it: whoever was
signed in signs in again once (docs/operations.md, "Upgrading a live deployment"),
and no session data, a provider's tokens among it, stays behind in that table.
"""

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as PreviousSessionStore
from django.contrib.sessions.models import Session as PreviousSession
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory
from tokens.sessions import BrowserSession

BEFORE = [("tokens", "0006_api_token_name")]

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def test_the_upgrade_empties_the_previous_sessions_and_their_browsers_sign_in_again():
    user = UserFactory()
    try:
        migrate(BEFORE)
        previous = PreviousSessionStore()
        previous[SESSION_KEY] = str(user.pk)
        previous.create()
        assert PreviousSession.objects.count() == 1

        migrate()

        assert not PreviousSession.objects.exists() and not BrowserSession.objects.exists()
        browser = Client()
        browser.cookies[settings.SESSION_COOKIE_NAME] = previous.session_key
        answer = browser.get(reverse("dashboard"))
        assert answer.status_code == 302 and answer["Location"].startswith("/login/")
    finally:
        migrate()
