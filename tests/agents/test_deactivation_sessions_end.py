"""A deactivation ends its user's sessions by their user column, whoever else is signed in.

It runs under the user's row lock and their tokens' locks, which a check of one of
their tokens waits for: its statements must not grow with everyone else's sessions.
"""

from importlib import import_module

import pytest
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agents.membership import Source, user_flags_set
from audit.actors import Actor
from audit.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

# The configured engine's store and table, whichever engine it is.
SessionStore = import_module(settings.SESSION_ENGINE).SessionStore
TABLE = SessionStore.get_model_class()._meta.db_table


def _signed_in(user, times: int = 1) -> list[str]:
    """Store `times` sessions signed in to the user, as a browser's sign-in leaves them."""
    keys = []
    for _ in range(times):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session.create()
        keys.append(session.session_key)
    return keys


def _deactivate(user) -> tuple[int, list[str]]:
    """Deactivate the user; return how many statements it ran, and those on the sessions."""
    with CaptureQueriesContext(connection) as queries:
        user_flags_set(user, actor=Actor.system("tests"), source=Source.COMMAND, is_active=False)
    return len(queries), [query["sql"] for query in queries if f'"{TABLE}"' in query["sql"]]


def test_one_statement_ends_the_users_sessions_with_one_or_fifty_others_signed_in():
    others = UserFactory.create_batch(50)
    first, second = UserFactory(), UserFactory()
    # A first deactivation in a process also reads the content types Django then caches.
    warm_up = UserFactory()
    _deactivate(warm_up)
    _signed_in(first, 2)
    _signed_in(second, 2)
    kept = _signed_in(others[0])

    with_one, on_sessions_with_one = _deactivate(first)
    for other in others[1:]:
        kept += _signed_in(other)
    with_fifty, on_sessions = _deactivate(second)

    assert with_one == with_fifty, "as many statements, one or fifty others signed in"
    assert len(on_sessions_with_one) == len(on_sessions) == 1
    [statement] = on_sessions
    assert statement.startswith("DELETE") and '"user_id" =' in statement
    assert "session_data" not in statement, "nobody's session data is read"
    ended = AuditEvent.objects.filter(action="user.active_changed").exclude(
        target_id=str(warm_up.pk)
    )
    ended = ended.order_by("seq")
    assert [event.data["sessions_ended"] for event in ended] == [2, 2]
    model = SessionStore.get_model_class()
    assert sorted(model.objects.values_list("session_key", flat=True)) == sorted(kept)


def test_a_reactivation_ends_a_session_stored_while_the_user_was_inactive():
    """A sign-in whose session is saved just after its user's deactivation escapes it; it is
    refused while they are inactive, and must not sign its browser in once they are back."""
    user = UserFactory()
    _deactivate(user)
    [late] = _signed_in(user)

    user_flags_set(user, actor=Actor.system("tests"), source=Source.COMMAND, is_active=True)
    reactivated = AuditEvent.objects.filter(action="user.active_changed").latest("seq")
    assert reactivated.after == {"is_active": True}
    assert reactivated.data["sessions_ended"] == 1
    model = SessionStore.get_model_class()
    assert not model.objects.filter(session_key=late).exists()


def test_an_expired_session_is_left_to_the_prune_and_not_counted():
    user = UserFactory()
    [live, expired] = _signed_in(user, 2)
    model = SessionStore.get_model_class()
    model.objects.filter(session_key=expired).update(expire_date="2000-01-01T00:00:00Z")

    _deactivate(user)
    (event,) = AuditEvent.objects.filter(action="user.active_changed")
    assert event.data["sessions_ended"] == 1
    assert list(model.objects.values_list("session_key", flat=True)) == [expired]
