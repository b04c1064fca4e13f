"""Two administrators giving one username, in one case or two, to two users at the same
moment, in the user admin: both forms pass their unique check before either save commits.
The second comes back with the username's error, as if it had been checked after the first
committed, and nothing of it is saved or recorded."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tests.concurrency import queued_behind_the_chain
from tests.factories import UserFactory
from tests.identity.test_user_admin import NEW_PASSWORD, _page, _save

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()
TAKEN = "A user with that username already exists."


def _admin(username: str) -> Client:
    client = Client()
    client.force_login(UserFactory(username=username, is_staff=True, is_superuser=True))
    return client


def _state(*users) -> list[tuple]:
    return [
        User.objects.filter(pk=user.pk).values_list("username", "is_staff").get() for user in users
    ]


def test_two_users_renamed_to_one_username_at_once(audit_since):
    dana, erin = UserFactory(username="dana"), UserFactory(username="erin")
    first, second = _admin("admin-1"), _admin("admin-2")
    dana_page, erin_page = _page(first, dana), _page(second, erin)
    since = audit_since()

    renamed, refused = queued_behind_the_chain(
        lambda: _save(first, dana, dana_page, username="dee"),
        lambda: _save(second, erin, erin_page, username="dee"),
    )

    assert renamed.status_code == 302
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {"username": [TAKEN]}
    assert _state(dana, erin) == [("dee", False), ("erin", False)]
    assert [(e.action, e.actor_label, e.after) for e in since()] == [
        ("user.renamed", "admin-1", {"username": "dee"})
    ]


def test_a_rename_saved_with_a_flag_while_another_takes_the_name(audit_since):
    """The first save changes a flag too. Its rename is written before the flag's event takes
    the audit chain's lock, so the second rename, holding the name, never waits for that lock
    while the first waits for the name: the second is refused, neither deadlocks."""
    dana, erin = UserFactory(username="dana"), UserFactory(username="erin")
    first, second = _admin("admin-1"), _admin("admin-2")
    dana_page, erin_page = _page(first, dana), _page(second, erin)
    since = audit_since()

    renamed, refused = queued_behind_the_chain(
        lambda: _save(first, dana, dana_page, username="dee", is_staff="on"),
        lambda: _save(second, erin, erin_page, username="dee"),
    )

    assert (renamed.status_code, refused.status_code) == (302, 200)
    assert refused.context["adminform"].form.errors == {"username": [TAKEN]}
    assert _state(dana, erin) == [("dee", True), ("erin", False)]
    assert sorted(e.action for e in since()) == ["user.renamed", "user.staff_changed"]


def test_two_users_of_one_username_added_at_once(audit_since):
    first, second = _admin("admin-1"), _admin("admin-2")
    url = reverse("admin:auth_user_add")
    data = {
        "username": "ines",
        **NEW_PASSWORD,
    }
    since = audit_since()

    added, refused = queued_behind_the_chain(
        lambda: first.post(url, data), lambda: second.post(url, data)
    )

    assert (added.status_code, refused.status_code) == (302, 200)
    assert refused.context["adminform"].form.errors == {"username": [TAKEN]}
    assert User.objects.filter(username="ines").count() == 1
    assert [(e.action, e.actor_label) for e in since()] == [("user.created", "admin-1")]


def test_two_users_renamed_to_one_name_in_two_cases_at_once(audit_since):
    """Neither name is the other as written; the index on their upper case makes the second
    rename wait for the first and refuses it once the first commits."""
    dana, erin = UserFactory(username="dana"), UserFactory(username="erin")
    first, second = _admin("admin-1"), _admin("admin-2")
    dana_page, erin_page = _page(first, dana), _page(second, erin)
    since = audit_since()

    renamed, refused = queued_behind_the_chain(
        lambda: _save(first, dana, dana_page, username="Dee"),
        lambda: _save(second, erin, erin_page, username="dee"),
    )

    assert (renamed.status_code, refused.status_code) == (302, 200)
    assert refused.context["adminform"].form.errors == {"username": [TAKEN]}
    assert _state(dana, erin) == [("Dee", False), ("erin", False)]
    assert [(e.action, e.actor_label, e.after) for e in since()] == [
        ("user.renamed", "admin-1", {"username": "Dee"})
    ]


def test_two_users_of_one_name_in_two_cases_added_at_once(audit_since):
    first, second = _admin("admin-1"), _admin("admin-2")
    url = reverse("admin:auth_user_add")
    data = NEW_PASSWORD
    since = audit_since()

    added, refused = queued_behind_the_chain(
        lambda: first.post(url, {**data, "username": "ines"}),
        lambda: second.post(url, {**data, "username": "INES"}),
    )

    assert (added.status_code, refused.status_code) == (302, 200)
    assert refused.context["adminform"].form.errors == {"username": [TAKEN]}
    assert list(
        User.objects.filter(username__iexact="ines").values_list("username", flat=True)
    ) == ["ines"]
    assert [(e.action, e.actor_label) for e in since()] == [("user.created", "admin-1")]
