"""The server-binding cursor of config/db.py: kept for its connection, new with a new one."""

import pytest
from django.db import DatabaseError, connection, transaction

from config.db import prepared_cursor

pytestmark = pytest.mark.django_db


def _server_cursor():
    with prepared_cursor() as cursor:
        cursor.execute("SELECT %s::int", [1])
        assert cursor.fetchone() == (1,)
        return cursor.cursor


def test_the_cursor_is_kept_for_its_connection():
    first = _server_cursor()
    assert _server_cursor() is first
    assert not first.closed


@pytest.mark.django_db(transaction=True)
def test_a_new_connection_gets_a_new_cursor():
    first = _server_cursor()
    connection.close()
    second = _server_cursor()
    assert second is not first
    assert second.connection is connection.connection


def test_a_failed_statement_leaves_the_kept_cursor_usable():
    first = _server_cursor()
    with pytest.raises(DatabaseError), transaction.atomic():
        with prepared_cursor() as cursor:
            cursor.execute("SELECT 1 / %s::int", [0])
    assert _server_cursor() is first  # and it answered the next statement
