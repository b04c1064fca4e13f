"""The names of the system's own accounts (config.usernames.RESERVED_USERNAMES) are never a
person's, in any case: the system creates its account by name when it first needs it, and
a person holding the name would be taken for it or stop it from being created."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from agents.membership import Source
from approvals.services import package_create
from audit.actors import Actor
from config.errors import InvalidInput
from config.usernames import SYSTEM_USERNAME
from identity.mapping import group_map
from identity.models import ProviderIdentity
from identity.services import provider_user_sign_in, user_names_set
from tests.factories import UserFactory, manifest_for
from tests.identity.test_user_admin import _add, _page, _save
from tests.identity.test_usernames_in_any_case import Terminal, _prompted
from tokens.accounts import service_account_get_or_create, system_account_get_or_create

pytestmark = pytest.mark.django_db

User = get_user_model()
STAFF = Actor.system("staff")
# The system's name as written, in other cases, and in full-width letters NFKC folds.
SYSTEM_NAMES = [
    SYSTEM_USERNAME,
    "Countersign-System",
    "COUNTERSIGN-SYSTEM",
    "\uff23ountersign-system",
]


def _reserved(username: str) -> str:
    return f"{username!r} is the name of one of Countersign's own accounts, never a person's."


def _usernames() -> list[str]:
    return sorted(User.objects.values_list("username", flat=True))


def _sign_in(username: str):
    mapping = group_map()
    return provider_user_sign_in(
        issuer="https://idp.example.com",
        subject="sub-1",
        username=username,
        email="",
        rights=mapping.rights([]),
        mapping=mapping,
    )


@pytest.fixture
def root(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("username", SYSTEM_NAMES)
def test_a_first_sign_in_is_refused_the_systems_name_and_the_system_keeps_it(
    agent, audit_since, username
):
    since = audit_since()
    with pytest.raises(InvalidInput) as refused:
        _sign_in(username)
    typed = User.normalize_username(username)
    assert refused.value.code == "reserved_username"
    assert refused.value.fields == {"username": [_reserved(typed)]}
    assert "the identity provider must name this account otherwise" in refused.value.message
    assert not ProviderIdentity.objects.exists() and since() == []

    # The system still creates, and is, its own account.
    package = package_create(
        actor=Actor.system("celery:recertification_open"), agent=agent, manifest=manifest_for(agent)
    )
    assert package.created_by.username == SYSTEM_USERNAME
    assert not package.created_by.is_active


@pytest.mark.parametrize("username", SYSTEM_NAMES)
def test_the_user_admin_refuses_the_systems_name_to_a_new_user_and_a_rename(
    root, audit_since, username
):
    erin = UserFactory(username="erin")
    since = audit_since()
    typed = User.normalize_username(username)

    response = _save(root, erin, _page(root, erin), username=username)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"username": [_reserved(typed)]}
    response = _add(root, username)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"username": [_reserved(typed)]}
    assert _usernames() == ["erin", "root"] and since() == []


def test_the_systems_own_account_is_still_edited_in_the_admin_under_its_name(root):
    system = system_account_get_or_create(actor=STAFF)
    response = _save(root, system, _page(root, system), first_name="System")
    assert response.status_code == 302
    system.refresh_from_db()
    assert (system.username, system.first_name) == (SYSTEM_USERNAME, "System")
    # Its name in another case is another name: the system would not find it.
    response = _save(root, system, _page(root, system), username="Countersign-System")
    assert response.status_code == 200
    assert _usernames() == [SYSTEM_USERNAME, "root"]


@pytest.mark.parametrize("username", SYSTEM_NAMES)
def test_the_rename_service_refuses_the_systems_name(audit_since, username):
    erin = UserFactory(username="erin")
    since = audit_since()
    with pytest.raises(InvalidInput) as refused:
        user_names_set(erin, actor=STAFF, source=Source.ADMIN, username=username)
    assert refused.value.fields == {"username": [_reserved(User.normalize_username(username))]}
    assert _usernames() == ["erin"] and since() == []


@pytest.mark.parametrize("username", SYSTEM_NAMES[:2])
def test_createsuperuser_refuses_the_systems_name(monkeypatch, audit_since, username):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-unusual-passphrase-9")
    since = audit_since()
    with pytest.raises(CommandError, match="Countersign's own accounts"):
        call_command("createsuperuser", interactive=False, username=username, email="", verbosity=0)
    assert _usernames() == [] and since() == []


@pytest.mark.parametrize("username", SYSTEM_NAMES)
def test_createsuperuser_asks_again_for_the_systems_name_typed_at_its_prompt(
    monkeypatch, audit_since, username
):
    asked = _prompted(monkeypatch, username, "ops")
    err = StringIO()
    since = audit_since()

    call_command(
        "createsuperuser", interactive=True, stdin=Terminal(), stdout=StringIO(), stderr=err
    )

    assert err.getvalue() == f"Error: {_reserved(User.normalize_username(username))}\n"
    assert [prompt.split(" ")[0] for prompt in asked] == ["Username", "Username", "Email"]
    assert _usernames() == ["ops"]
    assert [e.action for e in since()] == ["user.created"]


@pytest.mark.parametrize("username", SYSTEM_NAMES[:2])
def test_a_service_account_never_takes_the_systems_name(audit_since, username):
    since = audit_since()
    with pytest.raises(InvalidInput) as refused:
        service_account_get_or_create(actor=STAFF, username=username)
    assert refused.value.fields == {"username": [_reserved(username)]}
    with pytest.raises(CommandError, match="Countersign's own accounts"):
        call_command(
            "token",
            "create",
            *("--user", username, "--service-account", "--name", "x", "--scope", "gate:check"),
            stdout=StringIO(),
            stderr=StringIO(),
        )
    assert _usernames() == [] and since() == []


def test_seed_demo_names_a_user_holding_a_demo_name_in_another_case(checklists):
    held = UserFactory(username="Owner")
    with pytest.raises(CommandError) as refused:
        call_command("seed_demo", stdout=StringIO())
    assert str(refused.value) == (
        f"The demo users cannot be created: 'owner' is held as 'Owner' (user id {held.pk}). "
        "Rename or delete those users first."
    )
    assert _usernames() == ["Owner"]
