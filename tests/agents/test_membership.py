"""Every change of a user's groups, by service, admin or command, is one audited change."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from agents.membership import (
    Source,
    group_permissions_set,
    reviewer_assign,
    reviewer_unassign,
    user_groups_change,
    user_groups_set,
    user_teams_change,
    user_teams_set,
)
from audit.actors import Actor
from config.errors import InvalidInput, NotPermitted
from tests.factories import TeamFactory, UserFactory
from web.audit_words import event_sentence

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


def names(user) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


def test_setting_groups_is_one_event_with_what_changed(owner, audit_since):
    since = audit_since()
    assert user_groups_set(owner, ["iam", "product-owner"], actor=SYSTEM, source=Source.OIDC)
    (event,) = since()
    assert (event.action, event.target_type, event.target_id) == (
        "user.groups_changed",
        "auth.user",
        str(owner.pk),
    )
    assert event.data == {"user": "owner", "added": ["iam"], "removed": [], "source": "oidc"}
    assert (event.before, event.after) == (
        {"groups": ["product-owner"]},
        {"groups": ["iam", "product-owner"]},
    )
    since = audit_since()
    assert not user_groups_change(owner, actor=SYSTEM, source=Source.COMMAND, add=["iam"])
    assert since() == []
    assert user_groups_change(owner, actor=SYSTEM, source=Source.COMMAND, remove=["iam"])
    assert [e.data["removed"] for e in since()] == [["iam"]]


def test_changing_teams_adds_and_removes_only_those_named(owner, audit_since):
    care, ops, people = (TeamFactory(slug=slug) for slug in ("care", "ops", "people"))
    care.members.add(owner)
    ops.members.add(owner)
    since = audit_since()
    assert user_teams_change(
        owner, actor=SYSTEM, source=Source.COMMAND, add=[people], remove=["ops", "nowhere"]
    )
    assert sorted(owner.teams.values_list("slug", flat=True)) == ["care", "people"]
    (event,) = since()
    assert (event.action, event.before, event.after) == (
        "user.teams_changed",
        {"teams": ["care", "ops"]},
        {"teams": ["care", "people"]},
    )
    assert event.data == {
        "user": "owner",
        "added": ["people"],
        "removed": ["ops"],
        "source": "command",
    }
    since = audit_since()
    assert not user_teams_change(owner, actor=SYSTEM, source=Source.COMMAND, add=["care"])
    assert since() == []
    with pytest.raises(InvalidInput) as raised:
        user_teams_change(owner, actor=SYSTEM, source=Source.PAGE, add=["nowhere"])
    assert raised.value.fields == {"teams": ["No team 'nowhere'."]}
    with pytest.raises(NotPermitted):
        user_teams_change(owner, actor=Actor.for_user(owner), source=Source.PAGE, remove=[care])
    assert since() == []


def test_an_unknown_group_or_team_is_refused_naming_the_field(owner, audit_since):
    since = audit_since()
    with pytest.raises(InvalidInput) as raised:
        user_groups_set(owner, ["iam", "root"], actor=SYSTEM, source=Source.OIDC)
    assert raised.value.fields == {"groups": ["No group 'root'."]}
    with pytest.raises(InvalidInput) as raised:
        user_teams_set(owner, ["nowhere"], actor=SYSTEM, source=Source.OIDC)
    assert raised.value.fields == {"teams": ["No team 'nowhere'."]}
    assert names(owner) == ["product-owner"] and since() == []


def test_only_staff_the_system_or_the_user_signing_in_change_membership(
    owner, other_owner, staff, audit_since
):
    since = audit_since()
    with pytest.raises(NotPermitted):
        user_groups_set(owner, ["iam"], actor=Actor.for_user(other_owner), source=Source.PAGE)
    # At sign-in the provider's mapping is applied with the user signing in as the actor...
    user_groups_set(owner, ["iam"], actor=Actor.for_user(owner), source=Source.OIDC)
    # ...to themselves only.
    with pytest.raises(NotPermitted):
        user_groups_set(other_owner, ["iam"], actor=Actor.for_user(owner), source=Source.OIDC)
    user_teams_set(
        other_owner, [TeamFactory(slug="care")], actor=Actor.for_user(staff), source="page"
    )
    assert [(e.action, e.actor_label) for e in since()] == [
        ("user.groups_changed", "owner"),
        ("user.teams_changed", "staff"),
    ]


def test_reviewer_assignment_is_audited_once(agent, reviewers, audit_since):
    iam1 = reviewers["iam"][0]
    since = audit_since()
    kwargs = {"actor": SYSTEM, "agent": agent, "user": iam1, "source": Source.COMMAND}
    assert reviewer_assign(permission="review_iam", **kwargs)
    assert not reviewer_assign(permission="review_iam", **kwargs)
    assert iam1.has_perm("agents.review_iam", agent)
    assert reviewer_unassign(permission="review_iam", **kwargs)
    assert not reviewer_unassign(permission="review_iam", **kwargs)
    events = since()
    assert [(e.action, e.agent_slug, e.data["permission"]) for e in events] == [
        ("agent.reviewer_assigned", agent.slug, "review_iam"),
        ("agent.reviewer_unassigned", agent.slug, "review_iam"),
    ]
    assert events[0].data == {
        "user": "iam1",
        "user_id": iam1.pk,
        "permission": "review_iam",
        "source": "command",
    }
    with pytest.raises(InvalidInput) as raised:
        reviewer_assign(permission="review_pam", **kwargs)
    assert set(raised.value.fields) == {"user"}


def test_the_admin_deletes_neither_users_nor_groups(client, reviewers):
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    member = reviewers["pam"][0]
    assert client.get(reverse("admin:auth_user_delete", args=[member.pk])).status_code == 403
    group = Group.objects.get(name="pam")
    assert client.get(reverse("admin:auth_group_delete", args=[group.pk])).status_code == 403
    assert names(member) == ["pam"]


def test_a_groups_permissions_changed_in_the_admin_are_audited(client, staff, audit_since):
    staff.is_superuser = True
    staff.save()
    client.force_login(staff)
    iam = Group.objects.get_or_create(name="iam")[0]
    change_user = Permission.objects.get(codename="change_user")
    since = audit_since()

    url = reverse("admin:auth_group_change", args=[iam.pk])
    assert client.post(url, {"permissions": [change_user.pk]}).status_code == 302
    assert client.post(url, {"permissions": [change_user.pk]}).status_code == 302

    assert list(iam.permissions.values_list("codename", flat=True)) == ["change_user"]
    (event,) = since()
    assert (event.action, event.actor_label, event.target_type, event.target_id) == (
        "group.permissions_changed",
        "staff",
        "auth.group",
        str(iam.pk),
    )
    assert (event.before, event.after) == (
        {"permissions": []},
        {"permissions": ["auth.change_user"]},
    )
    assert event.data == {
        "group": "iam",
        "added": ["auth.change_user"],
        "removed": [],
        "source": "admin",
    }
    assert event_sentence(event) == "staff changed the permissions of the group iam"
    # A group made in the admin records the permissions it starts with.
    since = audit_since()
    view_team = Permission.objects.get(codename="view_team")
    added = client.post(
        reverse("admin:auth_group_add"), {"name": "readers", "permissions": [view_team.pk]}
    )
    assert added.status_code == 302
    assert [(e.action, e.data["group"], e.data["added"]) for e in since()] == [
        ("group.permissions_changed", "readers", ["agents.view_team"])
    ]


def test_only_staff_or_the_system_change_a_groups_permissions(owner, audit_since):
    iam = Group.objects.get_or_create(name="iam")[0]
    change_user = Permission.objects.get(codename="change_user")
    since = audit_since()
    with pytest.raises(NotPermitted):
        group_permissions_set(iam, [change_user], actor=Actor.for_user(owner), source="page")
    assert not iam.permissions.exists() and since() == []
    assert group_permissions_set(iam, [change_user], actor=SYSTEM, source=Source.COMMAND)
    assert not group_permissions_set(iam, [change_user], actor=SYSTEM, source=Source.COMMAND)
    assert [e.data["removed"] for e in since()] == [[]]


def test_the_demo_seed_records_its_group_changes(checklists, audit_since):
    since = audit_since()
    call_command("seed_demo")
    events = [e for e in since() if e.action == "user.groups_changed"]
    assert {e.data["user"] for e in events} >= {"iam1", "owner", "auditor"}
    assert {e.data["source"] for e in events} == {"command"}
    # Seeding again changes no membership.
    since = audit_since()
    call_command("seed_demo")
    assert [e for e in since() if e.action.startswith("user.")] == []


def test_the_groups_command_changes_groups_and_records_each_change(owner, audit_since, capsys):
    since = audit_since()
    call_command("groups", "add", "owner", "iam", "pam")
    call_command("groups", "remove", "owner", "pam")
    call_command("groups", "set", "owner", "security")
    assert capsys.readouterr().out.splitlines()[-1] == "owner\tsecurity"
    assert [
        (e.actor_label, e.data["added"], e.data["removed"], e.data["source"]) for e in since()
    ] == [
        ("manage.py groups", ["iam", "pam"], [], "command"),
        ("manage.py groups", [], ["pam"], "command"),
        ("manage.py groups", ["security"], ["iam", "product-owner"], "command"),
    ]
    with pytest.raises(CommandError, match="No group 'root'"):
        call_command("groups", "add", "owner", "root")
    with pytest.raises(CommandError, match="No user 'ghost'"):
        call_command("groups", "set", "ghost")
    assert names(owner) == ["security"]
