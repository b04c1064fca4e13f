"""Who may set a person's password, email address or names: staff (the admin) and the
system (manage.py changepassword, single sign-on); each service itself refuses anyone
else, the person included, as the product offers no page to change one's own."""

import pytest
from django.contrib.auth import get_user_model

from agents.membership import Source
from audit.actors import Actor
from config.errors import NotPermitted
from identity.services import user_email_set, user_names_set, user_password_set

pytestmark = pytest.mark.django_db

# What each change sets, the field it is stored in, the refusal and its event.
CHANGES = {
    "password": (
        lambda user, actor: user_password_set(
            user, "a-new-password-1", actor=actor, source=Source.ADMIN
        ),
        "password",
        "Only staff set people's passwords.",
        "user.password_set",
    ),
    "email": (
        lambda user, actor: user_email_set(
            user, "someone.else@example.com", actor=actor, source=Source.ADMIN
        ),
        "email",
        "Only staff change people's email addresses.",
        "user.email_changed",
    ),
    "names": (
        lambda user, actor: user_names_set(
            user, actor=actor, source=Source.ADMIN, username="renamed", last_name="Renamed"
        ),
        "username",
        "Only staff rename people.",
        "user.renamed",
    ),
}


def _stored(user, field):
    return get_user_model().objects.values_list(field, flat=True).get(pk=user.pk)


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("whose", ["another's", "their own"])
def test_a_person_who_is_not_staff_may_not_change_it_and_nothing_is_written(
    change, whose, owner, other_owner, audit_since
):
    call, field, refusal, _ = CHANGES[change]
    user = other_owner if whose == "another's" else owner
    stored = _stored(user, field)
    since = audit_since()
    with pytest.raises(NotPermitted) as refused:
        call(user, Actor.for_user(owner))
    assert (refused.value.code, refused.value.message) == ("not_staff", refusal)
    assert _stored(user, field) == stored
    assert since() == []


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_staff_status_is_read_as_the_last_change_left_it(change, staff, owner, audit_since):
    call, field, _, _ = CHANGES[change]
    actor = Actor.for_user(staff)  # read while still staff
    get_user_model().objects.filter(pk=staff.pk).update(is_staff=False)
    stored = _stored(owner, field)
    since = audit_since()
    with pytest.raises(NotPermitted):
        call(owner, actor)
    assert _stored(owner, field) == stored
    assert since() == []


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("who", ["staff", "system"])
def test_staff_and_the_system_change_it(change, who, staff, owner, audit_since):
    call, field, _, action = CHANGES[change]
    actor = Actor.for_user(staff) if who == "staff" else Actor.system("tests")
    stored = _stored(owner, field)
    since = audit_since()
    call(owner, actor)
    assert _stored(owner, field) != stored
    (event,) = since()
    assert (event.action, event.actor_label) == (action, actor.label)
