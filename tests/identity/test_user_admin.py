"""The user admin changes a user's rights, address and existence only with an audit event."""

import pytest
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.urls import reverse

from agents.membership import Source, reviewer_assign, user_flags_set
from audit.actors import Actor
from audit.models import AuditEvent
from signoffs.permissions import decision_standing
from tests.factories import UserFactory
from tests.web.dom import parse
from tokens.sessions import BrowserSession
from web.audit_words import event_sentence

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _page(client, member) -> dict:
    """Return the admin's change form of `member` as its page shows it, ready to post back."""
    response = client.get(reverse("admin:auth_user_change", args=[member.pk]))
    form = response.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("password", "groups", "user_permissions")
    }
    for flag in ("is_staff", "is_superuser", "is_active"):
        if not data.pop(flag, False):
            continue
        data[flag] = "on"
    data.update(
        {
            "groups": [g.pk for g in member.groups.all()],
            "user_permissions": [p.pk for p in member.user_permissions.all()],
            "date_joined_0": member.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": member.date_joined.strftime("%H:%M:%S"),
            "last_login_0": "",
            "last_login_1": "",
        }
    )
    # What the page showed, in its hidden inputs, as a browser sends them back.
    for node in parse(response.content).find("form", id="user_form").find_all("input"):
        name = node.attrs["name"]
        if node.attrs.get("type") == "hidden" and name != "csrfmiddlewaretoken":
            data.setdefault(name, []).append(node.attrs.get("value") or "")
    return data


def _save(client, member, page: dict, **changes):
    """Post `page` (from `_page`) with `changes` as the admin's change form of `member`."""
    url = reverse("admin:auth_user_change", args=[member.pk])
    return client.post(url, {k: v for k, v in {**page, **changes}.items() if v is not None})


# A new user's password, as the admin's add form asks for it.
NEW_PASSWORD = {
    "password1": "a-long-enough-passphrase-42",
    "password2": "a-long-enough-passphrase-42",
    "usable_password": "true",
}


def _add(client, username: str):
    """Post the admin's add form for a user named `username`, with a password."""
    return client.post(reverse("admin:auth_user_add"), {"username": username, **NEW_PASSWORD})


def _post_user(client, member, **changes):
    """Post the admin's change form of `member` as shown, with `changes`."""
    response = _save(client, member, _page(client, member), **changes)
    assert response.status_code == 302, response.context["adminform"].form.errors


def _new_events(since: int) -> list[tuple[str, dict, dict]]:
    events = AuditEvent.objects.filter(seq__gt=since).order_by("seq")
    return [(e.action, e.before, e.after) for e in events]


def _head() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def test_making_a_reviewer_superuser_is_audited_as_it_lets_them_past_the_assignment(
    admin_client, workflow, agent, reviewers, staff
):
    security1, security2 = reviewers["security"]
    reviewer_assign(
        actor=Actor.for_user(staff),
        agent=agent,
        user=security1,
        permission="review_security",
        source=Source.PAGE,
    )
    signoff = workflow.submit(agent).signoffs.get(dimension="security")
    assert decision_standing(security2, signoff).check.code == "not_assigned"
    since = _head()

    _post_user(admin_client, security2, is_staff="on", is_superuser="on")

    security2.refresh_from_db()
    assert decision_standing(security2, signoff)
    assert _new_events(since) == [
        ("user.staff_changed", {"is_staff": False}, {"is_staff": True}),
        ("user.superuser_changed", {"is_superuser": False}, {"is_superuser": True}),
    ]
    event = AuditEvent.objects.get(action="user.superuser_changed")
    assert event.actor_label == "root" and event.data["source"] == "admin"


def test_deactivating_and_readdressing_a_user_and_their_permissions_are_audited(admin_client):
    member = UserFactory(username="dana", email="dana@example.com")
    permission = Permission.objects.get(codename="view_team")
    since = _head()

    _post_user(
        admin_client,
        member,
        is_active=None,
        email="dana@example.org",
        user_permissions=[permission.pk],
    )

    member.refresh_from_db()
    assert not member.is_active and member.email == "dana@example.org"
    assert _new_events(since) == [
        ("user.active_changed", {"is_active": True}, {"is_active": False}),
        ("user.email_changed", {"email": "dana@example.com"}, {"email": "dana@example.org"}),
        ("user.permissions_changed", {"permissions": []}, {"permissions": ["agents.view_team"]}),
    ]


def test_deactivating_a_user_ends_their_sessions_at_once_so_reactivating_revives_none(
    admin_client, owner, agent
):
    browsers = [Client(), Client()]
    for browser in browsers:
        browser.force_login(owner)
        assert browser.get(f"/agents/{agent.slug}/").status_code == 200
    since = _head()

    _post_user(admin_client, owner, is_active=None)

    root = User.objects.get(username="root")
    signed_in = [(s.get_decoded()[SESSION_KEY], s.user_id) for s in BrowserSession.objects.all()]
    assert signed_in == [(str(root.pk), root.pk)]  # the admin's own
    event = AuditEvent.objects.get(action="user.active_changed", seq__gt=since)
    assert (event.actor_label, event.data["sessions_ended"]) == ("root", 2)
    user_flags_set(owner, actor=Actor.system("tests"), source=Source.COMMAND, is_active=True)
    for browser in browsers:
        response = browser.get(f"/agents/{agent.slug}/")
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_groups_change_through_the_membership_service(admin_client, reviewers):
    member = reviewers["pam"][0]
    since = _head()
    _post_user(admin_client, member, groups=[Group.objects.get(name="iam").pk])
    assert list(member.groups.values_list("name", flat=True)) == ["iam"]
    (event,) = AuditEvent.objects.filter(seq__gt=since)
    assert (event.action, event.actor_label, event.data["source"]) == (
        "user.groups_changed",
        "root",
        "admin",
    )
    assert event.data["added"] == ["iam"] and event.data["removed"] == ["pam"]


def test_a_save_that_changes_nothing_records_nothing(admin_client):
    member = UserFactory(username="erin", is_staff=True)
    since = _head()
    _post_user(admin_client, member)
    assert _new_events(since) == []


def test_a_user_created_in_the_admin_is_audited(admin_client):
    since = _head()
    response = _add(admin_client, "frank")
    assert response.status_code == 302
    assert _new_events(since) == [("user.created", {}, {"username": "frank", "email": ""})]


def _set_password(client, member, **data):
    url = reverse("admin:auth_user_password_change", args=[member.pk])
    return client.post(url, data)


def test_setting_a_users_password_is_audited_without_the_password(admin_client):
    reviewer = UserFactory(username="sec-reviewer", groups=["security"])
    since = _head()

    response = _set_password(
        admin_client,
        reviewer,
        password1="Another-pass-4-review",
        password2="Another-pass-4-review",
        usable_password="true",
    )

    assert response.status_code == 302
    reviewer.refresh_from_db()
    assert reviewer.check_password("Another-pass-4-review")
    (event,) = AuditEvent.objects.filter(seq__gt=since)
    assert (event.action, event.actor_label, event.target_type, event.target_id) == (
        "user.password_set",
        "root",
        "auth.user",
        str(reviewer.pk),
    )
    assert (event.before, event.after) == ({}, {"usable_password": True})
    assert event.data == {"user": "sec-reviewer", "source": "admin"}
    assert event_sentence(event) == "root changed the password of sec-reviewer"
    recorded = str([event.before, event.after, event.data])
    assert "Another-pass-4-review" not in recorded and reviewer.password not in recorded


def test_disabling_a_users_password_sign_in_is_audited(admin_client):
    member = UserFactory(username="gina")
    assert member.has_usable_password()
    since = _head()

    response = _set_password(
        admin_client, member, usable_password="false", **{"unset-password": ""}
    )

    assert response.status_code == 302
    member.refresh_from_db()
    assert not member.has_usable_password()
    assert _new_events(since) == [("user.password_set", {}, {"usable_password": False})]


def test_a_password_the_trail_cannot_record_is_not_set(admin_client):
    member = UserFactory(username="hugo")
    with connection.cursor() as cursor:
        # The trail's table is gone for the rest of this test's transaction: every append fails.
        cursor.execute("ALTER TABLE audit_auditevent RENAME TO audit_auditevent_away")
    admin_client.raise_request_exception = False

    response = _set_password(
        admin_client,
        member,
        password1="Another-pass-4-review",
        password2="Another-pass-4-review",
        usable_password="true",
    )

    assert response.status_code == 500
    member.refresh_from_db()
    assert member.check_password("pw-for-tests-1")


def test_a_rename_is_recorded_with_the_names_before(admin_client):
    """The trail and the evidence name people by their username and full name: a rename
    in the admin is an audit event holding what they were."""
    member = UserFactory(username="frank", first_name="Frank", last_name="Old")
    since = _head()
    _post_user(admin_client, member, username="francis", last_name="New")
    member.refresh_from_db()
    assert (member.username, member.first_name, member.last_name) == ("francis", "Frank", "New")
    assert _new_events(since) == [
        (
            "user.renamed",
            {"username": "frank", "last_name": "Old"},
            {"username": "francis", "last_name": "New"},
        )
    ]


def test_a_rename_and_a_deactivation_in_one_save_end_the_users_sessions(admin_client, owner):
    browser = Client()
    browser.force_login(owner)
    since = _head()

    _post_user(admin_client, owner, username="owner-renamed", is_active=None)

    assert not BrowserSession.objects.filter(user_id=owner.pk).exists()
    event = AuditEvent.objects.get(action="user.active_changed", seq__gt=since)
    assert event.data["sessions_ended"] == 1
