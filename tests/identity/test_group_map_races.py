"""The provider's mapping applied while staff change the same user's groups or teams: the
mapping reads what it replaces under the user's lock, so the provider decides what it manages
and leaves the rest as staff left it."""

import pytest

from agents.membership import Source, user_groups_change, user_teams_set
from audit.actors import Actor
from config.roles import Group
from identity.services import user_groups_set
from identity.services import user_teams_set as provider_teams_set
from tests.concurrency import raced
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
STAFF = Actor.system("staff")


def test_a_role_group_added_while_the_mapping_applies_is_taken_away_by_it():
    person = UserFactory(username="ines")
    user_groups_change(person, actor=STAFF, source=Source.COMMAND, add=["iam"])
    errors = raced(
        lambda: user_groups_change(person, actor=STAFF, source=Source.PAGE, add=["security"]),
        lambda: user_groups_set(person, ["iam"], actor=Actor.for_user(person), source=Source.OIDC),
    )
    assert not errors, errors
    held = set(person.groups.filter(name__in=Group.values).values_list("name", flat=True))
    assert held == {"iam"}


def test_a_team_the_mapping_leaves_alone_added_meanwhile_stays():
    person = UserFactory(username="ines")
    people, finance = TeamFactory(slug="people"), TeamFactory(slug="finance")
    errors = raced(
        lambda: user_teams_set(person, [finance], actor=STAFF, source=Source.PAGE),
        lambda: provider_teams_set(
            person, ["people"], actor=Actor.for_user(person), source=Source.OIDC, managed=["people"]
        ),
    )
    assert not errors, errors
    assert set(person.teams.values_list("slug", flat=True)) == {people.slug, finance.slug}
