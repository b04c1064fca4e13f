"""The user admin saving a user while another change of their rights commits: the admin
applies what its form changed, and leaves the other change standing."""

import pytest
from django.contrib.auth import get_user_model

from agents.membership import Source, user_flags_set, user_groups_change
from audit.actors import Actor
from audit.models import AuditEvent
from tests.concurrency import raced
from tests.factories import UserFactory
from tests.identity.test_user_admin import (  # noqa: F401  (a fixture)
    _page,
    _post_user,
    _save,
    admin_client,
)

pytestmark = pytest.mark.django_db(transaction=True)

User = get_user_model()
STAFF = Actor.system("staff")


def test_a_rename_in_the_admin_leaves_a_deactivation_committed_meanwhile(
    admin_client,  # noqa: F811  (the fixture imported above)
):
    member = UserFactory(username="dana", first_name="Dana")
    errors = raced(
        lambda: user_flags_set(member, actor=STAFF, source=Source.COMMAND, is_active=False),
        lambda: _post_user(admin_client, member, first_name="Dana Q."),
    )
    assert not errors, errors
    member.refresh_from_db()
    assert (member.is_active, member.first_name) == (False, "Dana Q.")
    assert list(
        AuditEvent.objects.filter(action__startswith="user.").values_list("action", "after")
    ) == [
        ("user.active_changed", {"is_active": False}),
        ("user.renamed", {"first_name": "Dana Q."}),
    ]


def test_a_rename_in_the_admin_leaves_a_group_removal_committed_meanwhile(
    admin_client,  # noqa: F811  (the fixture imported above)
    reviewers,
):
    member = reviewers["iam"][0]
    errors = raced(
        lambda: user_groups_change(member, actor=STAFF, source=Source.COMMAND, remove=["iam"]),
        lambda: _post_user(admin_client, member, last_name="Renamed"),
    )
    assert not errors, errors
    assert not member.groups.filter(name="iam").exists()
    assert User.objects.get(pk=member.pk).last_name == "Renamed"
    assert not AuditEvent.objects.filter(action="user.groups_changed", data__added=["iam"]).exists()


def test_a_stale_page_saved_while_a_group_is_removed_gives_back_neither_that_nor_a_deactivation(
    admin_client,  # noqa: F811  (the fixture imported above)
    reviewers,
):
    """The page opened before the deactivation shows the user active; its save, running
    into a group removal that commits meanwhile, leaves both changes standing."""
    member = reviewers["iam"][0]
    page = _page(admin_client, member)
    user_flags_set(member, actor=STAFF, source=Source.COMMAND, is_active=False)
    posted = []
    errors = raced(
        lambda: user_groups_change(member, actor=STAFF, source=Source.COMMAND, remove=["iam"]),
        lambda: posted.append(_save(admin_client, member, page, last_name="Renamed")),
    )
    assert not errors, errors
    assert posted[0].status_code == 302
    member = User.objects.get(pk=member.pk)
    assert (member.is_active, member.last_name) == (False, "Renamed")
    assert not member.groups.exists()
    assert list(
        AuditEvent.objects.filter(action__startswith="user.").values_list("action", flat=True)
    ) == ["user.active_changed", "user.groups_changed", "user.renamed"]
