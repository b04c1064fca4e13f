"""Who a token is created for: a person's by that person; staff's for themselves and for
service accounts; the system's (manage.py token) for anyone."""

import html
import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.utils import timezone

from agents.membership import Source
from audit.actors import Actor
from config.errors import InvalidInput
from identity.services import user_password_set
from tests.factories import UserFactory
from tokens.accounts import service_account_get_or_create
from tokens.models import ApiToken, Scope
from tokens.services import token_create

pytestmark = pytest.mark.django_db

ADD = "/admin/tokens/apitoken/add/"
SYSTEM = Actor.system("tests")
STAFF_REFUSAL = (
    "Staff create tokens only for themselves and for service accounts; "
    "owner creates their own on the API tokens page."
)


@pytest.fixture
def token_staff(db):
    """A staff member who may add and view tokens in the admin, and nothing more."""
    user = UserFactory(username="token-staff", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="tokens", codename__in=["add_apitoken", "view_apitoken"]
        )
    )
    return user


@pytest.fixture
def robot(db):
    return service_account_get_or_create(actor=SYSTEM, username="ci-bot")


def _post(client, user):
    return client.post(
        ADD,
        {
            "user": user.pk,
            "name": "GitLab",
            "scopes": [Scope.GATE_CHECK],
            "expires_at_0": (timezone.now() + timedelta(days=10)).strftime("%Y-%m-%d"),
            "expires_at_1": "12:00:00",
            "allowed_networks": "",
        },
        follow=True,
    )


def _create(actor, user):
    return token_create(actor=actor, user=user, name="ci", scopes=[Scope.GATE_CHECK])


def test_the_admin_refuses_a_token_for_another_person_naming_the_user_field(
    client, token_staff, owner, audit_since
):
    since = audit_since()
    client.force_login(token_staff)
    response = _post(client, owner)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["user"] == [STAFF_REFUSAL]
    assert html.escape(STAFF_REFUSAL) in response.content.decode()
    assert not ApiToken.objects.exists()
    assert [event.action for event in since()] == []


def test_the_admin_offers_and_creates_for_the_staff_member_and_service_accounts(
    client, token_staff, owner, robot, staff, audit_since
):
    get_user_model().objects.create_user(username="sso-person")  # as a first SSO sign-in does
    client.force_login(token_staff)
    page = client.get(ADD).content.decode()
    select = re.search(r'<select name="user".*?</select>', page, re.S).group(0)
    offered = {int(pk) for pk in re.findall(r'<option value="(\d+)"', select)}
    assert offered == {token_staff.pk, robot.pk}
    since = audit_since()
    for user in (token_staff, robot):
        response = _post(client, user)
        assert response.status_code == 200
        assert ApiToken.objects.filter(user=user).count() == 1
    events = since()
    assert [(e.action, e.actor_label) for e in events] == [("token.created", "token-staff")] * 2
    assert [e.after["user"] for e in events] == ["token-staff", "ci-bot"]


def test_the_service_refuses_staff_a_token_for_another_person(staff, owner, audit_since):
    since = audit_since()
    with pytest.raises(InvalidInput) as refusal:
        _create(Actor.for_user(staff), owner)
    assert refusal.value.fields["user"] == [STAFF_REFUSAL]
    assert not ApiToken.objects.exists()
    assert since() == []


def test_the_service_refuses_a_person_a_token_for_someone_else(owner, other_owner, audit_since):
    since = audit_since()
    with pytest.raises(InvalidInput) as refusal:
        _create(Actor.for_user(other_owner), owner)
    assert refusal.value.fields["user"] == [
        "A token for owner is created by owner, on the API tokens page."
    ]
    assert not ApiToken.objects.exists()
    assert since() == []


def test_a_person_without_a_usable_password_is_no_service_account(staff, owner, robot):
    """Lacking a password makes no service account: single sign-on's people have none, and
    staff may turn a person's password sign-in off. The account must be one
    service_account_get_or_create made, and still without a password."""
    sso = get_user_model().objects.create_user(username="sso-person")
    assert not sso.has_usable_password()
    user_password_set(owner, None, actor=Actor.for_user(staff), source=Source.ADMIN)
    # Named to the service, an existing person is returned, not made a service account.
    assert service_account_get_or_create(actor=SYSTEM, username="owner") == owner
    user_password_set(robot, "a-password-for-robots-1", actor=SYSTEM, source=Source.ADMIN)
    for user in (sso, owner, robot):
        with pytest.raises(InvalidInput) as refusal:
            _create(Actor.for_user(staff), user)
        assert set(refusal.value.fields) == {"user"}
    assert not ApiToken.objects.exists()


def test_the_command_creates_for_a_person_what_staff_may_not(staff, owner, audit_since):
    with pytest.raises(InvalidInput):
        _create(Actor.for_user(staff), owner)
    since = audit_since()
    out = StringIO()
    call_command(
        "token",
        "create",
        "--user",
        "owner",
        "--name",
        "ci",
        "--scope",
        Scope.GATE_CHECK,
        stdout=out,
        stderr=StringIO(),
    )
    token = ApiToken.objects.get()
    assert (token.user, out.getvalue().startswith(token.prefix)) == (owner, True)
    (event,) = since()
    assert (event.action, event.actor_type, event.actor_label) == (
        "token.created",
        "system",
        "manage.py token",
    )
    assert _create(SYSTEM, owner)[0].user == owner
