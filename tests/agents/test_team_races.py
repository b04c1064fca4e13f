"""Two staff saving one team's members at once: the list saved last is the team's."""

import pytest

from agents.membership import Source, team_members_set
from audit.actors import Actor
from tests.concurrency import raced
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
