"""Django's createsuperuser and changepassword record what they change, or change nothing."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.db import OperationalError

from audit.models import AuditEvent
from tests.api.test_gate_api import failing
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()


def _events_since(seq: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(seq__gt=seq).order_by("seq"))


def _head() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


@pytest.fixture
def typed(monkeypatch):
    """Answer the password prompts with the given texts, in turn."""

    def answers(*texts):
        replies = iter(texts)
        monkeypatch.setattr("getpass.getpass", lambda prompt="": next(replies))

    return answers


def test_the_commands_run_are_the_recording_ones():
    commands = get_commands()
    assert (commands["createsuperuser"], commands["changepassword"]) == ("identity", "identity")


def test_a_superuser_created_on_the_command_line_is_audited(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-unusual-passphrase-9")
    since = _head()
    call_command(
        "createsuperuser", interactive=False, username="ops", email="ops@example.com", verbosity=0
    )
    user = User.objects.get(username="ops")
    assert user.is_superuser and user.check_password("a-long-unusual-passphrase-9")
    [event] = _events_since(since)
    assert (event.action, event.actor_type, event.actor_label) == (
        "user.created",
        "system",
        "manage.py createsuperuser",
    )
    assert event.after == {"username": "ops", "email": "ops@example.com"}
    assert event.data == {"source": "command", "is_staff": True, "is_superuser": True}


def test_a_superuser_whose_creation_cannot_be_recorded_is_not_created(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-unusual-passphrase-9")
    with failing("audit"), pytest.raises(OperationalError, match="cannot be read"):
        call_command("createsuperuser", interactive=False, username="ops", email="", verbosity=0)
    assert not User.objects.filter(username="ops").exists()


def test_a_superuser_for_another_database_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-unusual-passphrase-9")
    since = _head()
    with pytest.raises(CommandError, match="--database: .*'default'"):
        call_command(
            "createsuperuser", interactive=False, username="ops", email="", database="replica"
        )
    assert not User.objects.filter(username="ops").exists()
    assert _events_since(since) == []


def test_a_password_changed_on_the_command_line_is_audited(typed):
    user = UserFactory(username="dana")
    typed("another-long-passphrase-4", "another-long-passphrase-4")
    since = _head()
    call_command("changepassword", "dana")
    user.refresh_from_db()
    assert user.check_password("another-long-passphrase-4")
    [event] = _events_since(since)
    assert (event.action, event.actor_label, event.target_id) == (
        "user.password_set",
        "manage.py changepassword",
        str(user.pk),
    )
    assert (event.after, event.data) == (
        {"usable_password": True},
        {"user": "dana", "source": "command"},
    )


def test_a_password_change_given_up_changes_and_records_nothing(typed):
    user = UserFactory(username="dana")
    held = user.password
    typed(*["one-long-passphrase-1", "other-long-passphrase-2"] * 3)
    since = _head()
    with pytest.raises(CommandError, match="after 3 attempts"):
        call_command("changepassword", "dana")
    user.refresh_from_db()
    assert (user.password, _events_since(since)) == (held, [])


def test_a_password_change_that_cannot_be_recorded_changes_nothing(typed):
    user = UserFactory(username="dana")
    held = user.password
    typed("another-long-passphrase-4", "another-long-passphrase-4")
    with failing("audit"), pytest.raises(OperationalError, match="cannot be read"):
        call_command("changepassword", "dana")
    user.refresh_from_db()
    assert user.password == held
