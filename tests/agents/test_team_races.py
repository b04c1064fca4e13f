"""A team's members saved while another change of them commits: no change is lost, none
deadlocks."""

import pytest

from agents.membership import Source, team_members_set, user_groups_change
from audit.actors import Actor
from tests.concurrency import chain_held, queued, raced
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
