"""Who may revoke a token: its own user, staff and the system; the service itself refuses others."""

import pytest
from django.contrib.auth import get_user_model

from audit.actors import Actor
from config.errors import NotPermitted
from tokens.models import ApiToken, Scope
from tokens.services import token_revoke

pytestmark = pytest.mark.django_db


def test_another_person_may_not_revoke_a_token_and_nothing_is_written(
    make_token, owner, other_owner, audit_since
):
    token, _ = make_token(owner, Scope.GATE_CHECK)
    since = audit_since()
    with pytest.raises(NotPermitted) as refused:
        token_revoke(actor=Actor.for_user(other_owner), token=token)
    assert refused.value.code == "not_token_user"
    assert token.prefix in refused.value.message and "owner" in refused.value.message
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert since() == []


def test_staff_status_is_read_as_the_last_change_left_it(make_token, owner, staff, audit_since):
    token, _ = make_token(owner, Scope.GATE_CHECK)
    actor = Actor.for_user(staff)  # read while still staff
    get_user_model().objects.filter(pk=staff.pk).update(is_staff=False)
    since = audit_since()
    with pytest.raises(NotPermitted):
        token_revoke(actor=actor, token=token)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert since() == []


@pytest.mark.parametrize("who", ["user", "staff", "system"])
def test_its_user_staff_and_the_system_revoke_a_token(who, make_token, owner, staff, audit_since):
    token, _ = make_token(owner, Scope.GATE_CHECK)
    actor = {
        "user": Actor.for_user(owner),
        "staff": Actor.for_user(staff),
        "system": Actor.system("tests"),
    }[who]
    since = audit_since()
    token_revoke(actor=actor, token=token)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    (event,) = since()
    assert (event.action, event.actor_label) == ("token.revoked", actor.label)
