"""Who may create a team: staff and the system; the service itself refuses anyone else."""

import pytest
from django.contrib.auth import get_user_model

from agents.models import Team
from agents.services import team_create
from audit.actors import Actor
from config.errors import NotPermitted

pytestmark = pytest.mark.django_db


def test_a_person_who_is_not_staff_may_not_create_a_team_and_nothing_is_written(owner, audit_since):
    since = audit_since()
    with pytest.raises(NotPermitted) as refused:
        team_create(actor=Actor.for_user(owner), slug="finance", name="Finance")
    assert (refused.value.code, refused.value.message) == ("not_staff", "Only staff create teams.")
    assert not Team.objects.filter(slug="finance").exists()
    assert since() == []


def test_staff_status_is_read_as_the_last_change_left_it(staff, audit_since):
    actor = Actor.for_user(staff)  # read while still staff
    get_user_model().objects.filter(pk=staff.pk).update(is_staff=False)
    since = audit_since()
    with pytest.raises(NotPermitted):
        team_create(actor=actor, slug="finance", name="Finance")
    assert not Team.objects.filter(slug="finance").exists()
    assert since() == []


@pytest.mark.parametrize("who", ["staff", "system"])
def test_staff_and_the_system_create_teams(who, staff, audit_since):
    actor = Actor.for_user(staff) if who == "staff" else Actor.system("tests")
    since = audit_since()
    team = team_create(actor=actor, slug="finance", name="Finance")
    (event,) = since()
    assert (event.action, event.actor_label, event.target_id) == (
        "team.created",
        actor.label,
        str(team.pk),
    )
