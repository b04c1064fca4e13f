"""The cursor audit's appender runs its statement on: Django's own.

Whether PostgreSQL keeps the hot statements prepared is the database
OPTIONS' business (config/settings.py), for every cursor alike.
"""

from django.db import connection


def prepared_cursor():
    """Return, for a `with` block, a cursor of the default connection (`connection.cursor()`)."""
    return connection.cursor()
