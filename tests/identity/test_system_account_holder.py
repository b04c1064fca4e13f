"""An account holding the system's name (config.usernames.SYSTEM_USERNAME) that is not the
system's own, such as one a person created before the name was reserved, is named by
`manage.py check --database default` (identity.W003), and the system refuses to write as it
rather than credit a person with what it does."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import timezone

from approvals.models import ApprovalPackage
from approvals.recertification import recertifications_open_due
from approvals.services import package_create
from audit.actors import Actor
from config.errors import AlreadyExists
from config.usernames import SYSTEM_USERNAME
from identity.checks import system_account_held
from tests.factories import UserFactory, manifest_for
from tokens.accounts import system_account_get_or_create

pytestmark = pytest.mark.django_db

User = get_user_model()
ACTOR = Actor.system("celery:recertification_open")


def _system_shaped(username: str = SYSTEM_USERNAME):
    """Return an account of the name shaped as the system creates its own."""
    user = UserFactory(username=username, is_active=False)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    return user


def _a_persons(make_token):
    return UserFactory(username=SYSTEM_USERNAME)


def _deactivated_with_a_password(make_token):
    return UserFactory(username=SYSTEM_USERNAME, is_active=False)


def _staff(make_token):
    user = _system_shaped()
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    return user


def _signed_in_once(make_token):
    user = _system_shaped()
    user.last_login = timezone.now()
    user.save(update_fields=["last_login"])
    return user


def _in_a_group(make_token):
    user = _system_shaped()
    user.groups.add(Group.objects.get_or_create(name="security")[0])
    return user


def _holding_a_permission(make_token):
    user = _system_shaped()
    user.user_permissions.add(Permission.objects.get(codename="view_apitoken"))
    return user


def _holding_a_token(make_token):
    user = UserFactory(username=SYSTEM_USERNAME, is_active=True)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    make_token(user, "gate:check")
    user.is_active = False
    user.save(update_fields=["is_active"])
    return user


def _in_another_case(make_token):
    return _system_shaped("Countersign-System")


# An account of the system's name made another's in each way, and what the check says of it.
HOLDERS = [
    pytest.param((_a_persons, "it is active; it has a usable password"), id="a-persons"),
    pytest.param((_deactivated_with_a_password, "it has a usable password"), id="password"),
    pytest.param((_staff, "it is staff; it is a superuser"), id="staff"),
    pytest.param((_signed_in_once, "it has signed in"), id="signed-in"),
    pytest.param((_in_a_group, "it is in a group"), id="group"),
    pytest.param((_holding_a_permission, "it holds permissions of its own"), id="permission"),
    pytest.param((_holding_a_token, "it holds API tokens"), id="token"),
    pytest.param(
        (_in_another_case, "it holds the system's name in another case, as 'Countersign-System'"),
        id="another-case",
    ),
]


@pytest.fixture(params=HOLDERS)
def holder(request, make_token):
    build, problems = request.param
    return build(make_token), problems


def _named(user, problems: str) -> str:
    return (
        f"The account {user.get_username()!r} (user id {user.pk}) holds the name of "
        f"Countersign's own account but is not it: {problems}."
    )


def test_the_check_names_an_account_holding_the_systems_name_that_is_not_its_own(holder):
    user, problems = holder

    [error] = system_account_held(None, databases=["default"])

    assert (error.id, error.level, error.msg) == ("identity.W003", 30, _named(user, problems))
    assert error.hint.startswith("Rename that account in the admin (Users)")
    with pytest.raises(SystemCheckError, match="identity.W003"):
        call_command("check", databases=["default"], fail_level="WARNING")
    # Without a database named, the check reads nothing and says nothing.
    assert system_account_held(None) == []


def test_the_system_refuses_to_write_as_an_account_that_is_not_its_own(holder, agent, audit_since):
    user, problems = holder
    since = audit_since()

    with pytest.raises(AlreadyExists) as refused:
        system_account_get_or_create(actor=ACTOR)
    assert refused.value.code == "system_account_held"
    assert refused.value.message.startswith(f"{_named(user, problems)} The system does not")
    with pytest.raises(AlreadyExists):
        package_create(actor=ACTOR, agent=agent, manifest=manifest_for(agent))

    assert not agent.packages.exists()
    assert User.objects.filter(username__iexact=SYSTEM_USERNAME).get() == user
    assert since() == []


def test_a_recertification_is_blocked_not_credited_to_a_person(workflow, agent, audit_since):
    approved = workflow.approve(agent)
    ApprovalPackage.objects.filter(pk=approved.pk).update(
        expires_at=timezone.now() + timedelta(days=2)
    )
    person = UserFactory(username=SYSTEM_USERNAME)
    since = audit_since()

    run = recertifications_open_due(actor=ACTOR)

    assert run.failed == [f"{agent.slug} v{approved.version}"]
    assert not ApprovalPackage.objects.filter(created_by=person).exists()
    [event] = since()
    assert (event.action, event.data["code"]) == ("recertification.blocked", "system_account_held")


def test_the_systems_own_account_passes_the_check_and_is_used(agent, audit_since):
    system = system_account_get_or_create(actor=ACTOR)
    # Staff may still give it a name to show (the admin edits it).
    system.first_name = "System"
    system.save(update_fields=["first_name"])

    assert system_account_held(None, databases=["default"]) == []
    call_command("check", databases=["default"])
    package = package_create(actor=ACTOR, agent=agent, manifest=manifest_for(agent))
    assert package.created_by == system
    assert system_account_get_or_create(actor=ACTOR) == system


def test_no_account_of_the_systems_name_passes_the_check():
    UserFactory(username="dana")
    assert system_account_held(None, databases=["default"]) == []
