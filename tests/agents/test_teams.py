"""Teams are administered: every membership change, by service, command or admin, is audited."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from agents.membership import Source, team_members_change
from agents.models import Team
from agents.services import team_create
from audit.actors import Actor
from config.errors import InvalidInput
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

STAFF = Actor.system("tests")


def members(team) -> list[str]:
    return sorted(Team.objects.get(pk=team.pk).members.values_list("username", flat=True))


def test_a_membership_change_is_one_audit_event_per_user(owner, other_owner, audit_since):
    team = TeamFactory(slug="finance", members=[owner])
    since = audit_since()
    team_members_change(
        actor=STAFF, team=team, source=Source.COMMAND, add=[other_owner], remove=[owner]
    )
    events = {event.data["user"]: event for event in since()}
    assert set(events) == {"owner", "other-owner"}
    for username, event in events.items():
        user = owner if username == "owner" else other_owner
        assert (event.action, event.actor_label, event.target_id) == (
            "user.teams_changed",
            "tests",
            str(user.pk),
        )
    assert (events["owner"].before, events["owner"].after) == (
        {"teams": ["finance"]},
        {"teams": []},
    )
    assert events["owner"].data == {
        "user": "owner",
        "added": [],
        "removed": ["finance"],
        "source": "command",
    }
    assert events["other-owner"].data["added"] == ["finance"]
    # Adding a member again changes nothing, and records nothing.
    since = audit_since()
    team_members_change(actor=STAFF, team=team, source=Source.COMMAND, add=[other_owner])
    assert since() == []


@pytest.mark.parametrize(
    ("slug", "name", "field"),
    [("Not a slug!", "Ops", "slug"), ("finance", "Ops", "slug"), ("ops", " ", "name")],
)
def test_a_team_needs_a_free_slug_and_a_name(slug, name, field, audit_since):
    TeamFactory(slug="finance")
    since = audit_since()
    with pytest.raises(InvalidInput) as raised:
        team_create(actor=STAFF, slug=slug, name=name)
    assert set(raised.value.fields) == {field}
    assert since() == []


def test_the_team_command_creates_teams_and_changes_members(owner, other_owner, audit_since):
    since = audit_since()
    call_command("team", "create", "ops", "--name", "Operations")
    call_command("team", "add", "ops", "owner", "other-owner")
    call_command("team", "remove", "ops", "owner")
    team = Team.objects.get(slug="ops")
    assert (team.name, members(team)) == ("Operations", ["other-owner"])
    assert [
        (e.action, e.actor_label, e.data.get("user"), e.data.get("source")) for e in since()
    ] == [
        ("team.created", "manage.py team", None, None),
        ("user.teams_changed", "manage.py team", "owner", "command"),
        ("user.teams_changed", "manage.py team", "other-owner", "command"),
        ("user.teams_changed", "manage.py team", "owner", "command"),
    ]
    with pytest.raises(CommandError, match="No user 'ghost'"):
        call_command("team", "add", "ops", "ghost")
    with pytest.raises(CommandError, match="No team 'nope'"):
        call_command("team", "add", "nope", "owner")


def test_staff_administer_teams_in_the_admin_and_each_change_is_audited(
    client, owner, other_owner, audit_since
):
    admin = UserFactory(username="admin", is_staff=True, is_superuser=True)
    client.force_login(admin)
    since = audit_since()
    response = client.post(
        reverse("admin:agents_team_add"), {"slug": "legal", "name": "Legal", "members": [owner.pk]}
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    team = Team.objects.get(slug="legal")
    assert members(team) == ["owner"]
    response = client.post(
        reverse("admin:agents_team_change", args=[team.pk]), {"members": [other_owner.pk]}
    )
    assert response.status_code == 302
    assert members(team) == ["other-owner"]
    events = [(e.action, e.actor_label, e.data.get("user"), e.after) for e in since()]
    assert events == [
        ("team.created", "admin", None, {"slug": "legal", "name": "Legal"}),
        ("user.teams_changed", "admin", "owner", {"teams": ["legal"]}),
        ("user.teams_changed", "admin", "owner", {"teams": []}),
        ("user.teams_changed", "admin", "other-owner", {"teams": ["legal"]}),
    ]
    assert {e.data["source"] for e in since() if e.action == "user.teams_changed"} == {"admin"}
