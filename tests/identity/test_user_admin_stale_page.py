"""The user admin applies only what its administrator changed on the page.

The page sends back, in hidden inputs, the values it showed; a save applies, each
through the service that audits it, the fields whose posted value differs from
those, and leaves every other field as the database has it: a deactivation, a
group, staff or superuser status taken away after the page was opened (security
pulling access during an incident) is not given back by a save of the stale page.
"""

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from agents.membership import Source, user_flags_set, user_groups_change
from audit.actors import Actor
from identity.services import user_names_set
from tests.factories import UserFactory
from tests.identity.test_user_admin import _page, _save, admin_client  # noqa: F401  (a fixture)

pytestmark = pytest.mark.django_db

User = get_user_model()
ELSEWHERE = Actor.system("security on call")
RELOAD = "The page sent back is not the one shown: reload it."


def _notes(content: str) -> list[str]:
    """Return the texts of the page's notes at the top of its form."""
    return [
        " ".join(note.split())
        for note in re.findall(r'<p class="errornote">(.*?)</p>', content, re.S)
    ]


def _events(since) -> list[tuple[str, dict, dict]]:
    return [(event.action, event.before, event.after) for event in since()]


def _group(name: str) -> Group:
    return Group.objects.get_or_create(name=name)[0]


def _state(member) -> tuple:
    member = User.objects.get(pk=member.pk)
    return (
        member.is_active,
        member.is_staff,
        member.is_superuser,
        sorted(member.groups.values_list("name", flat=True)),
        sorted(member.user_permissions.values_list("codename", flat=True)),
    )


@pytest.fixture
def member():
    """An administrator's like: active, staff, superuser, a reviewer with a permission."""
    user = UserFactory(
        username="dana",
        first_name="Dana",
        is_staff=True,
        is_superuser=True,
        groups=["security", "iam"],
    )
    user.user_permissions.add(Permission.objects.get(codename="view_team"))
    return user


def test_a_deactivation_committed_after_the_page_opened_survives_a_rename(
    admin_client,  # noqa: F811  (the fixture imported above)
    member,
    audit_since,
):
    page = _page(admin_client, member)
    user_flags_set(member, actor=ELSEWHERE, source=Source.COMMAND, is_active=False)
    since = audit_since()

    response = _save(admin_client, member, page, first_name="Dana Q.")

    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.is_active, member.first_name) == (False, "Dana Q.")
    assert _events(since) == [("user.renamed", {"first_name": "Dana"}, {"first_name": "Dana Q."})]


def test_access_pulled_after_the_page_opened_is_not_given_back(
    admin_client,  # noqa: F811  (the fixture imported above)
    member,
    audit_since,
):
    page = _page(admin_client, member)
    user_flags_set(
        member,
        actor=ELSEWHERE,
        source=Source.COMMAND,
        is_active=False,
        is_staff=False,
        is_superuser=False,
    )
    user_groups_change(member, actor=ELSEWHERE, source=Source.COMMAND, remove=["security"])
    member.user_permissions.clear()
    pulled = _state(member)
    since = audit_since()

    response = _save(admin_client, member, page, last_name="Renamed")

    assert response.status_code == 302
    assert _state(member) == pulled == (False, False, False, ["iam"], [])
    assert _events(since) == [("user.renamed", {"last_name": ""}, {"last_name": "Renamed"})]


def test_a_group_removed_meanwhile_is_not_added_back_with_the_one_the_page_adds(
    admin_client,  # noqa: F811  (the fixture imported above)
    member,
    audit_since,
):
    page = _page(admin_client, member)
    user_groups_change(member, actor=ELSEWHERE, source=Source.OIDC, remove=["security"])
    since = audit_since()

    response = _save(admin_client, member, page, groups=[*page["groups"], _group("pam").pk])

    assert response.status_code == 302
    assert _state(member)[3] == ["iam", "pam"]
    (event,) = since()
    assert (event.action, event.actor_label, event.data["source"]) == (
        "user.groups_changed",
        "root",
        "admin",
    )
    assert (event.data["added"], event.data["removed"]) == (["pam"], [])


def test_the_administrators_own_changes_apply_and_the_others_stand(
    admin_client,  # noqa: F811  (the fixture imported above)
    member,
    audit_since,
):
    page = _page(admin_client, member)
    # Meanwhile: out of IAM, into compliance, superuser status taken away.
    user_groups_change(
        member, actor=ELSEWHERE, source=Source.COMMAND, add=["compliance"], remove=["iam"]
    )
    user_flags_set(member, actor=ELSEWHERE, source=Source.COMMAND, is_superuser=False)
    add_team = Permission.objects.get(codename="add_team")
    since = audit_since()

    # The administrator deactivates, clears staff and superuser status (already cleared),
    # takes the user out of security, gives a permission and a new address.
    response = _save(
        admin_client,
        member,
        page,
        is_active=None,
        is_staff=None,
        is_superuser=None,
        groups=[_group("iam").pk],
        user_permissions=[*page["user_permissions"], add_team.pk],
        email="dana@example.org",
    )

    assert response.status_code == 302
    assert _state(member) == (False, False, False, ["compliance"], ["add_team", "view_team"])
    assert User.objects.get(pk=member.pk).email == "dana@example.org"
    assert _events(since) == [
        ("user.staff_changed", {"is_staff": True}, {"is_staff": False}),
        ("user.active_changed", {"is_active": True}, {"is_active": False}),
        ("user.email_changed", {"email": "dana@example.com"}, {"email": "dana@example.org"}),
        ("user.groups_changed", {"groups": ["compliance", "security"]}, {"groups": ["compliance"]}),
        (
            "user.permissions_changed",
            {"permissions": ["agents.view_team"]},
            {"permissions": ["agents.add_team", "agents.view_team"]},
        ),
    ]


def test_a_name_both_changed_takes_the_administrators_recorded_over_the_other(
    admin_client,  # noqa: F811  (the fixture imported above)
    member,
    audit_since,
):
    page = _page(admin_client, member)
    user_names_set(member, actor=ELSEWHERE, source=Source.COMMAND, first_name="Danielle")
    since = audit_since()

    response = _save(admin_client, member, page, first_name="Dana Q.")

    assert response.status_code == 302
    assert User.objects.get(pk=member.pk).first_name == "Dana Q."
    assert _events(since) == [
        ("user.renamed", {"first_name": "Danielle"}, {"first_name": "Dana Q."})
    ]


def test_a_save_of_the_page_as_shown_changes_nothing_changed_meanwhile(
    admin_client,  # noqa: F811  (the fixture imported above)
    member,
    audit_since,
):
    page = _page(admin_client, member)
    user_flags_set(member, actor=ELSEWHERE, source=Source.COMMAND, is_staff=False)
    user_names_set(member, actor=ELSEWHERE, source=Source.COMMAND, username="dana.q")
    since = audit_since()

    assert _save(admin_client, member, page).status_code == 302

    member.refresh_from_db()
    assert (member.username, member.is_staff) == ("dana.q", False)
    assert since() == []


@pytest.mark.parametrize(
    "tampered",
    [
        {"groups_shown": ["x"]},
        {"user_permissions_shown": ["1.5"]},
        {"groups_shown": ["\x00"]},
        {"is_active_shown": "maybe"},
        {"is_active_shown": None},
        {"username_shown": None},
        {"is_superuser_shown": "1"},
    ],
)
def test_a_page_that_was_not_the_one_shown_is_refused_saying_so(
    admin_client,  # noqa: F811  (the fixture imported above)
    member,
    audit_since,
    tampered,
):
    page = _page(admin_client, member)
    before = _state(member)
    since = audit_since()

    response = _save(admin_client, member, page, **tampered, is_active=None, groups=[])

    assert response.status_code == 200
    content = response.content.decode()
    # The note at the top says what happened, once, and the title that the save failed.
    assert _notes(content) == [RELOAD]
    assert content.count(RELOAD) == 1
    assert "<title>Error: " in content
    assert "Please correct" not in content
    assert _state(member) == before
    assert since() == []


def test_a_page_not_the_one_shown_with_a_field_wrong_too_asks_for_corrections(
    admin_client,  # noqa: F811  (the fixture imported above)
    member,
    audit_since,
):
    page = _page(admin_client, member)
    since = audit_since()

    response = _save(admin_client, member, page, is_active_shown="maybe", username="")

    content = response.content.decode()
    # The hidden input's own error is not counted: the page counts the one it says.
    assert _notes(content) == ["Please correct the errors below."]
    assert RELOAD in content
    assert response.context["adminform"].form.errors["username"]
    assert since() == []


def test_ids_of_no_row_shown_are_ignored(
    admin_client,  # noqa: F811  (the fixture imported above)
    member,
    audit_since,
):
    page = _page(admin_client, member)
    since = audit_since()
    far = [str(2**31), str(2**63), "-1"]
    shown = {"groups_shown": [*page["groups_shown"], *far], "user_permissions_shown": far}

    assert _save(admin_client, member, {**page, **shown}).status_code == 302

    assert _state(member) == (True, True, True, ["iam", "security"], ["view_team"])
    assert since() == []
