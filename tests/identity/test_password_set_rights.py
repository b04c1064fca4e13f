"""Who may set a person's password: staff (the admin) and the system (manage.py
changepassword); the service itself refuses anyone else, the person included, as the
product offers no page to set one's own."""

import pytest
from django.contrib.auth import get_user_model

from agents.membership import Source
from audit.actors import Actor
from config.errors import NotPermitted
from identity.services import user_password_set

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("whose", ["another's", "their own"])
def test_a_person_who_is_not_staff_may_not_set_a_password_and_nothing_is_written(
    whose, owner, other_owner, audit_since
):
    user = other_owner if whose == "another's" else owner
    stored = get_user_model().objects.get(pk=user.pk).password
    since = audit_since()
    with pytest.raises(NotPermitted) as refused:
        user_password_set(user, "a-new-password-1", actor=Actor.for_user(owner), source=Source.PAGE)
    assert (refused.value.code, refused.value.message) == (
        "not_staff",
        "Only staff set people's passwords.",
    )
    assert get_user_model().objects.get(pk=user.pk).password == stored
    assert since() == []


def test_staff_status_is_read_as_the_last_change_left_it(staff, owner, audit_since):
    actor = Actor.for_user(staff)  # read while still staff
    get_user_model().objects.filter(pk=staff.pk).update(is_staff=False)
    stored = get_user_model().objects.get(pk=owner.pk).password
    since = audit_since()
    with pytest.raises(NotPermitted):
        user_password_set(owner, None, actor=actor, source=Source.ADMIN)
    assert get_user_model().objects.get(pk=owner.pk).password == stored
    assert since() == []


@pytest.mark.parametrize("who", ["staff", "system"])
def test_staff_and_the_system_set_passwords(who, staff, owner, audit_since):
    actor = Actor.for_user(staff) if who == "staff" else Actor.system("tests")
    since = audit_since()
    user = user_password_set(owner, "a-new-password-1", actor=actor, source=Source.ADMIN)
    assert user.check_password("a-new-password-1")
    (event,) = since()
    assert (event.action, event.actor_label) == ("user.password_set", actor.label)
