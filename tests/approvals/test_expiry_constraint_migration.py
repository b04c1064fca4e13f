"""The expiry constraint's migration names the approved packages without an expiry.

An approved package without one was written by hand (the application never writes
it); `approvals 0011` stops at it, naming each by agent and version with the
statement that gives it its approval lifetime, instead of failing on the constraint
with a bare IntegrityError.
"""

import pytest
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from approvals.models import ApprovalPackage
from approvals.policy import approval_lifetime

BEFORE_CONSTRAINT = [("approvals", "0010_package_created_at")]
CONSTRAINT = ("approvals", "0011_approved_package_expires")

pytestmark = pytest.mark.django_db(transaction=True)


def migrate(targets=None):
    executor = MigrationExecutor(connection)
    executor.migrate(targets or executor.loader.graph.leaf_nodes())


def applied() -> bool:
    return CONSTRAINT in MigrationExecutor(connection).loader.applied_migrations


def test_migrating_stops_naming_each_approval_without_expiry_and_how_to_give_it_one(
    workflow, agent
):
    approved = workflow.approve(agent)
    try:
        migrate(BEFORE_CONSTRAINT)
        ApprovalPackage.objects.filter(pk=approved.pk).update(expires_at=None)

        with pytest.raises(CommandError) as stopped:
            migrate()
        message = str(stopped.value)
        assert f"{agent.slug} v{approved.version}" in message
        assert not applied()

        statements = [line.strip() for line in message.splitlines() if "SET expires_at" in line]
        assert len(statements) == 1, message
        with connection.cursor() as cursor:
            cursor.execute(statements[0])
        migrate()
        assert applied()
    finally:
        ApprovalPackage.objects.filter(state="approved", expires_at__isnull=True).update(
            state="expired"
        )
        migrate()
    approved.refresh_from_db()
    assert approved.expires_at == approved.approved_at + approval_lifetime(approved)
