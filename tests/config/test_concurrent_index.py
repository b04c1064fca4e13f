"""An index built concurrently on the audit events survives a build that stopped half-way.

`CREATE INDEX CONCURRENTLY` that fails (a lock timeout, a cancelled `migrate` job)
leaves an invalid index of its name behind; migrating again drops it and builds the
index, as docs/operations.md says a failed migration is continued.
"""

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from audit.actors import Actor
from audit.services import audit_record

INDEX = "audit_audit_actor_l_b10e31_idx"
BEFORE = [("audit", "0006_verification_run")]

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def index_valid() -> bool | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [INDEX]
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_migrating_again_replaces_the_invalid_index_a_stopped_build_left():
    for _ in range(2):
        with transaction.atomic():
            audit_record(actor=Actor.system("tests"), action="agent.updated")
    try:
        migrate(BEFORE)
        assert index_valid() is None
        # A unique build over two equal labels fails after creating its index: PostgreSQL
        # keeps it, invalid, as it does when a concurrent build is cancelled.
        with pytest.raises(Exception, match="could not create unique index"):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE UNIQUE INDEX CONCURRENTLY {INDEX} ON audit_auditevent (actor_label)"
                )
        assert index_valid() is False
    finally:
        migrate()
    assert index_valid() is True
