"""A team created, or its members saved, while another change of it commits: no change is
lost, none deadlocks, the one that cannot stand is refused naming the field."""

import pytest
from django.test import Client
from django.urls import reverse

from agents.membership import Source, team_members_set, user_groups_change
from agents.models import Team
from agents.services import team_create
from audit.actors import Actor
from config.errors import AlreadyExists
from tests.concurrency import chain_held, queued, queued_behind_the_chain, raced
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
STAFF = Actor.system("staff")


def test_two_member_lists_of_one_team_saved_at_once_leave_the_last_one(owner, other_owner):
    """Each save reads the members it replaces under the team's lock, so the second one
    replaces the first's list rather than adding to it."""
    team = TeamFactory(members=[owner])
    newcomer = UserFactory(username="newcomer")
    errors = raced(
        lambda: team_members_set(
            actor=STAFF, team=team, members=[owner, other_owner], source=Source.ADMIN
        ),
        lambda: team_members_set(
            actor=STAFF, team=team, members=[owner, newcomer], source=Source.ADMIN
        ),
    )
    assert not errors, errors
    assert set(team.members.all()) == {owner, newcomer}


def test_a_team_saved_with_two_new_members_while_the_second_ones_groups_change(owner):
    """The save locks every member it changes before it records any change, so a change of
    one of them at the same moment waits for it, instead of holding that member's row while
    waiting for the audit chain's lock the save holds from its first event."""
    team = TeamFactory()
    first, second = UserFactory(username="first"), UserFactory(username="second")
    with chain_held() as held:
        errors = queued(
            held,
            lambda: team_members_set(
                actor=STAFF, team=team, members=[first, second], source=Source.ADMIN
            ),
            lambda: user_groups_change(second, actor=STAFF, source=Source.COMMAND, add=["iam"]),
        )
    assert not errors, errors
    assert set(team.members.all()) == {first, second}
    assert second.groups.filter(name="iam").exists()


def test_two_teams_of_one_slug_created_at_once_refuse_the_second_naming_the_slug(audit_since):
    """Both pass the slug check before either commits; the unique index refuses the second,
    and the refusal says which field."""
    since = audit_since()
    with chain_held() as held:
        errors = queued(
            held,
            lambda: team_create(actor=STAFF, slug="legal", name="Legal"),
            lambda: team_create(actor=STAFF, slug="legal", name="Legal too"),
        )
    assert [(type(e), e.fields) for e in errors] == [(AlreadyExists, {"slug": ["Already taken."]})]
    assert list(Team.objects.values_list("name", flat=True)) == ["Legal"]
    assert [e.action for e in since()] == ["team.created"]


def test_two_staff_adding_one_team_in_the_admin_at_once(audit_since):
    """The second admin form passed its own unique check before the first committed: it comes
    back with the slug's error, as if it had been checked after."""
    clients = []
    for username in ("admin-1", "admin-2"):
        clients.append(Client())
        clients[-1].force_login(UserFactory(username=username, is_staff=True, is_superuser=True))
    url = reverse("admin:agents_team_add")
    since = audit_since()
    first, second = queued_behind_the_chain(
        *(
            lambda client=client: client.post(url, {"slug": "legal", "name": "Legal"})
            for client in clients
        )
    )
    assert first.status_code == 302
    assert second.status_code == 200
    assert list(second.context["adminform"].form.errors) == ["slug"]
    assert Team.objects.count() == 1
    assert [(e.action, e.actor_label) for e in since()] == [("team.created", "admin-1")]


def test_a_team_added_in_the_admin_with_a_member_whose_groups_change_meanwhile(owner):
    """The admin locks the new team's members before the team's first event, so a change of
    one of them at the same moment waits for the save, instead of holding that member's row
    while waiting for the audit chain's lock the save holds from the team's creation."""
    client = Client()
    client.force_login(UserFactory(username="admin-1", is_staff=True, is_superuser=True))
    member = UserFactory(username="member")
    responses = []
    with chain_held() as held:
        errors = queued(
            held,
            lambda: responses.append(
                client.post(
                    reverse("admin:agents_team_add"),
                    {"slug": "legal", "name": "Legal", "members": [member.pk]},
                )
            ),
            lambda: user_groups_change(member, actor=STAFF, source=Source.COMMAND, add=["iam"]),
        )
    assert not errors, errors
    assert [response.status_code for response in responses] == [302]
    assert list(Team.objects.get(slug="legal").members.all()) == [member]
    assert member.groups.filter(name="iam").exists()
