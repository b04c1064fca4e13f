"""Cursors for the hottest statements: planned once per connection on PostgreSQL.

Django's PostgreSQL cursors bind parameters on the client, so the server parses
and plans every statement every time; for the statements every API call and
every gate check runs (the token lookup, the gate's decision, the audit append)
planning cost several times their execution. A server-binding cursor lets
psycopg prepare them after a few uses (`prepare_threshold` in the database
OPTIONS, settings.DB_PREPARE_THRESHOLD). Anywhere else it is the usual cursor.

The server-binding cursor is made once per connection and kept: making a
psycopg cursor (and its loaders) for every statement cost a quarter of running
one of these statements.
"""

from contextlib import nullcontext

from django.db import connection


def prepared_cursor():
    """Return, for a `with` block, a cursor whose statements stay prepared on this connection.

    It is Django's cursor wrapper, with its query logging and error translation,
    over a server-binding psycopg cursor kept for as long as the connection
    (`connection._prepare_cursor` is what `connection.cursor()` uses to wrap).
    """
    if connection.vendor != "postgresql":
        return connection.cursor()
    connection.ensure_connection()
    raw = connection.connection
    cursor = getattr(connection, "_kept_server_cursor", None)
    if cursor is None or cursor.connection is not raw or cursor.closed:
        import psycopg

        cursor = connection._kept_server_cursor = psycopg.Cursor(raw)
    # The `with` block must not close the kept cursor: nullcontext only hands it over.
    return nullcontext(connection._prepare_cursor(cursor))
