"""No username differs from another user's only in case (config.usernames): every way of
naming or renaming a user refuses one with the username's error and changes nothing."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.test import Client

from agents.membership import Source
from audit.actors import Actor
from config.errors import AlreadyExists
from identity.mapping import group_map
from identity.models import ProviderIdentity
from identity.services import provider_user_sign_in, user_names_set
from tests.factories import UserFactory
from tests.identity.test_user_admin import _add, _page, _save
from tokens.accounts import service_account_get_or_create

pytestmark = pytest.mark.django_db

User = get_user_model()
TAKEN = "A user with that username already exists."
STAFF = Actor.system("staff")
# "dana" in another case, and in full-width letters that NFKC makes "DANA".
OTHER_CASES = ["Dana", "DANA", "\uff24\uff21\uff2e\uff21"]


@pytest.fixture
def dana():
    return UserFactory(username="dana")


@pytest.fixture
def root() -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def _usernames() -> list[str]:
    return sorted(User.objects.values_list("username", flat=True))


@pytest.mark.parametrize("username", OTHER_CASES)
def test_the_user_admin_refuses_a_rename_to_another_users_name_in_another_case(
    root, dana, audit_since, username
):
    erin = UserFactory(username="erin")
    page = _page(root, erin)
    since = audit_since()

    response = _save(root, erin, page, username=username)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"username": [TAKEN]}
    assert _usernames() == ["dana", "erin", "root"]
    assert since() == []


def test_the_user_admin_renames_a_user_to_their_own_name_in_another_case(root, dana):
    response = _save(root, dana, _page(root, dana), username="Dana")

    assert response.status_code == 302
    assert _usernames() == ["Dana", "root"]


@pytest.mark.parametrize("username", OTHER_CASES)
def test_the_user_admin_refuses_a_new_user_of_another_users_name_in_another_case(
    root, dana, audit_since, username
):
    since = audit_since()
    response = _add(root, username)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {"username": [TAKEN]}
    assert _usernames() == ["dana", "root"]
    assert since() == []


@pytest.mark.parametrize("username", OTHER_CASES)
def test_the_rename_service_refuses_another_users_name_in_another_case(dana, audit_since, username):
    erin = UserFactory(username="erin")
    since = audit_since()

    with pytest.raises(AlreadyExists) as refused:
        user_names_set(erin, actor=STAFF, source=Source.ADMIN, username=username)

    assert refused.value.fields == {"username": [TAKEN]}
    assert _usernames() == ["dana", "erin"]
    assert since() == []


def test_the_rename_service_stores_and_checks_the_nfkc_form(dana):
    erin = UserFactory(username="erin")
    user_names_set(erin, actor=STAFF, source=Source.ADMIN, username="\uff25\uff32\uff29\uff2e")
    assert _usernames() == ["ERIN", "dana"]


@pytest.mark.parametrize("username", OTHER_CASES)
def test_createsuperuser_refuses_another_users_name_in_another_case(
    monkeypatch, dana, audit_since, username
):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-unusual-passphrase-9")
    since = audit_since()

    with pytest.raises(CommandError, match="That username is already taken."):
        call_command("createsuperuser", interactive=False, username=username, email="", verbosity=0)

    assert _usernames() == ["dana"]
    assert since() == []


def test_createsuperuser_refuses_a_name_in_another_case_from_its_environment(
    monkeypatch, dana, audit_since
):
    # Django reads DJANGO_SUPERUSER_USERNAME itself and checks it as written; the index on
    # the names' upper case refuses it at the save, and the command says why.
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "DANA")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-unusual-passphrase-9")
    since = audit_since()

    with pytest.raises(CommandError, match="That username is already taken, in this or an"):
        call_command("createsuperuser", interactive=False, email="", verbosity=0)

    assert _usernames() == ["dana"]
    assert since() == []


class Terminal(StringIO):
    """Standard input as a person's terminal: the command asks only at one."""

    def isatty(self) -> bool:
        return True


def _prompted(monkeypatch, *usernames: str) -> list[str]:
    """Answer createsuperuser's username prompt with each name in turn, then its e-mail
    prompt with nothing; return the prompts the command asked, in order."""
    asked = []
    answers = iter([*usernames, ""])

    def answer(prompt=""):
        asked.append(prompt)
        return next(answers)

    monkeypatch.setattr("builtins.input", answer)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "a-long-unusual-passphrase-9")
    return asked


@pytest.mark.parametrize("username", OTHER_CASES)
def test_createsuperuser_asks_again_for_a_name_typed_at_its_prompt_in_another_case(
    monkeypatch, dana, audit_since, username
):
    # Django's prompt checks the name as written; a name dana holds in another case is
    # taken too, so the prompt says so and asks again, as Django does for "dana".
    asked = _prompted(monkeypatch, username, "dana2")
    err = StringIO()
    since = audit_since()

    call_command(
        "createsuperuser", interactive=True, stdin=Terminal(), stdout=StringIO(), stderr=err
    )

    assert err.getvalue() == f"Error: {TAKEN}\n"
    assert [prompt.split(" ")[0] for prompt in asked] == ["Username", "Username", "Email"]
    assert _usernames() == ["dana", "dana2"]
    assert [(e.action, e.target_id) for e in since()] == [
        ("user.created", str(User.objects.get(username="dana2").pk))
    ]


def test_createsuperuser_asks_again_for_a_name_given_in_another_case_with_its_prompt(
    monkeypatch, dana, audit_since
):
    asked = _prompted(monkeypatch, "dana2")
    err = StringIO()

    call_command(
        "createsuperuser",
        interactive=True,
        username="DANA",
        stdin=Terminal(),
        stdout=StringIO(),
        stderr=err,
    )

    assert err.getvalue() == f"Error: {TAKEN}\n"
    assert [prompt.split(" ")[0] for prompt in asked] == ["Username", "Email"]
    assert _usernames() == ["dana", "dana2"]


@pytest.mark.parametrize("username", ["Dana", "DANA"])
def test_a_service_account_is_not_another_users_name_in_another_case(dana, audit_since, username):
    since = audit_since()

    with pytest.raises(AlreadyExists) as refused:
        service_account_get_or_create(actor=STAFF, username=username)
    assert refused.value.fields == {"username": [TAKEN]}
    assert _usernames() == ["dana"]
    assert since() == []

    # The command names a user by what was typed, in any case (config.usernames.user_named):
    # the name is dana's, so the token is dana's, no account is created, and it says so.
    err = StringIO()
    call_command(
        "token",
        "create",
        "--user",
        username,
        "--service-account",
        "--name",
        "x",
        "--scope",
        "gate:check",
        stdout=StringIO(),
        stderr=err,
    )
    assert err.getvalue().startswith("Using the existing user 'dana'.\n")
    assert _usernames() == ["dana"]
    assert [e.action for e in since()] == ["token.created"]
    assert dana.api_tokens.count() == 1


def test_the_service_account_of_the_name_as_written_is_returned(dana):
    assert service_account_get_or_create(actor=STAFF, username="dana") == dana


@pytest.mark.parametrize("username", ["Dana", "dAnA"])
def test_the_database_refuses_another_users_name_in_another_case(dana, username):
    """What no check here sees (a write made around the application) the index refuses."""
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username=username)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=UserFactory(username="erin").pk).update(username=username)


def test_a_first_sign_in_refuses_a_local_users_name_in_another_case(dana):
    mapping = group_map()
    with pytest.raises(AlreadyExists) as refused:
        provider_user_sign_in(
            issuer="https://idp.example.com",
            subject="sub-dana",
            username="DANA",
            email="",
            rights=mapping.rights([]),
            mapping=mapping,
        )
    assert refused.value.fields == {"username": [TAKEN]}
    assert not ProviderIdentity.objects.exists()
