"""Migration operations that leave a big table's writes going while they run.

`migrate` runs while the previous version serves (docs/operations.md, "Upgrading a
live deployment"), and tests hold an index on the audit events or the observations
to be built concurrently (tests/config/test_migrations.py). PostgreSQL's
`CREATE INDEX CONCURRENTLY` has no equivalent on SQLite, which `make run` uses, so
there the index is built the plain way: that database serves one laptop.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """Build the index concurrently on PostgreSQL, plainly elsewhere.

    A concurrent build that stops half-way (a lock timeout, a cancelled job) leaves an
    invalid index of the same name behind, which would make the next `migrate` fail
    with "already exists": that leftover is dropped first, so migrating again
    continues as after any other failed migration.
    """

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            migrations.AddIndex.database_forwards(
                self, app_label, schema_editor, from_state, to_state
            )
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)",
                [schema_editor.quote_name(self.index.name)],
            )
            row = cursor.fetchone()
        if row and row[0]:
            schema_editor.execute(
                f"DROP INDEX CONCURRENTLY {schema_editor.quote_name(self.index.name)}"
            )
        super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            migrations.AddIndex.database_backwards(
                self, app_label, schema_editor, from_state, to_state
            )
            return
        super().database_backwards(app_label, schema_editor, from_state, to_state)
