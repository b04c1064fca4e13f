"""The migration that makes usernames unique in any case names the users it cannot.

Users whose usernames differ only in case were possible before it (a rename in the
admin, a service account); `identity 0003` stops at them, naming each by username and
id, instead of failing on the index with a bare IntegrityError, and applies once all but
one of each are renamed.
"""

import pytest
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from tests.factories import UserFactory

BEFORE_INDEX = [("identity", "0002_no_guardian_anonymous_user")]
INDEX = ("identity", "0003_username_unique_in_any_case")

pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()


def migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def applied() -> bool:
    return INDEX in MigrationExecutor(connection).loader.applied_migrations


def test_migrating_stops_naming_the_users_of_one_name_until_they_are_renamed():
    try:
        migrate(BEFORE_INDEX)  # taking the index back
        dana, upper, mixed = (UserFactory(username=name) for name in ("dana", "DANA", "Dana"))
        erin = UserFactory(username="erin")

        with pytest.raises(CommandError) as stopped:
            migrate()
        message = str(stopped.value)
        line = f"  'dana' (id {dana.pk}), 'DANA' (id {upper.pk}), 'Dana' (id {mixed.pk})"
        assert line in message.splitlines(), message
        assert "erin" not in message
        assert "/admin/auth/user/" in message
        assert not applied()

        User.objects.filter(pk=upper.pk).update(username="dana-2")
        User.objects.filter(pk=mixed.pk).update(username="dana-3")
        migrate()
        assert applied()
        with pytest.raises(IntegrityError), transaction.atomic():
            User.objects.filter(pk=erin.pk).update(username="Dana")
    finally:
        User.objects.filter(username__istartswith="dana").delete()
        migrate()
    assert applied()
