"""The cursor for the statements every request runs.

Server-side binding and prepared statements are switched on for every cursor
by the database OPTIONS (config/settings.py, DB_PREPARE_THRESHOLD), so this is
Django's own cursor, health-checked like any other; audit's appender uses it.
"""

from django.db import connection


def prepared_cursor():
    """Return, for a `with` block, a cursor of the default connection (`connection.cursor()`)."""
    return connection.cursor()
