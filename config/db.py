"""Cursors for the hottest statements: planned once per connection on PostgreSQL.

Django's PostgreSQL cursors bind parameters on the client, so the server parses
and plans every statement every time; for the statements every API call and
every gate check runs (the token lookup, the gate's decision, the audit append)
planning cost several times their execution. A server-binding cursor lets
psycopg prepare them after a few uses (`prepare_threshold` in the database
OPTIONS, settings.DB_PREPARE_THRESHOLD). Anywhere else it is the usual cursor.
"""

from django.db import connection


def prepared_cursor():
    """Return a cursor whose statements stay prepared on this connection after a few uses.

    It is Django's cursor wrapper, with its query logging, over a server-binding
    psycopg cursor (`connection._prepare_cursor` is what `connection.cursor()` uses).
    """
    if connection.vendor != "postgresql":
        return connection.cursor()
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors:
        # What `connection.cursor()` does, but over a server-binding psycopg cursor.
        return connection._prepare_cursor(psycopg.Cursor(connection.connection))
