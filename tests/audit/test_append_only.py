"""The audit trail is append-only, chained, and written with its change or not at all."""

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from approvals.models import ApprovalPackage, PackageState
from approvals.services import package_submit
from audit.actors import Actor
from audit.chain import GENESIS_HASH, event_hash, stored_fields
from audit.models import AuditEvent
from audit.services import audit_record
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


def record(n=3):
    with transaction.atomic():
        for i in range(n):
            audit_record(actor=Actor.system(), action="test.event", data={"i": i})


def test_events_chain_from_genesis(db):
    record(3)
    events = list(AuditEvent.objects.order_by("seq"))
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == GENESIS_HASH
    for before, event in zip([None, *events], events, strict=False):
        prev = before.hash if before else GENESIS_HASH
        fields = stored_fields(event)
        assert event.hash == event_hash(prev, fields)


def test_orm_refuses_update_and_delete(db):
    record(1)
    event = AuditEvent.objects.get()
    event.action = "edited"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.update(action="edited")
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'edited'",
        "DELETE FROM audit_auditevent",
        "TRUNCATE audit_auditevent",
    ],
)
def test_database_trigger_refuses_tampering(db, statement):
    record(1)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEvent.objects.get().action == "test.event"


def test_audit_outside_a_transaction_is_refused(db):
    # pytest-django wraps tests in a transaction; leave it to prove the guard.
    connection.in_atomic_block, saved = False, connection.in_atomic_block
    try:
        with pytest.raises(RuntimeError):
            audit_record(actor=Actor.system(), action="x")
    finally:
        connection.in_atomic_block = saved


def test_failed_audit_write_rolls_the_change_back(workflow, owner):
    """A real database failure on the audit insert undoes the state change with it."""
    agent = AgentFactory(owners=[owner])
    package = workflow.create(agent)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION refuse_submit_audit() RETURNS trigger AS $$
            BEGIN
              IF NEW.action = 'package.submitted' THEN RAISE EXCEPTION 'audit down'; END IF;
              RETURN NEW;
            END; $$ LANGUAGE plpgsql;
            CREATE TRIGGER refuse_submit_audit BEFORE INSERT ON audit_auditevent
              FOR EACH ROW EXECUTE FUNCTION refuse_submit_audit();
            """
        )
    with pytest.raises(DatabaseError, match="audit down"):
        package_submit(actor=Actor.for_user(owner), package=package)
    package = ApprovalPackage.objects.get(pk=package.pk)
    assert package.state == PackageState.DRAFT
    assert package.submitted_at is None
    assert not package.signoffs.exists()
    assert not AuditEvent.objects.filter(action="package.submitted").exists()


@pytest.mark.parametrize("number", [1e16, 2.5e17, 5.0, 0.1, 1e-7, -3.25, 12345678901234567890])
def test_numbers_hash_the_same_after_a_round_trip_through_postgresql(db, number):
    from audit.verify import audit_verify

    record_with = {"amount": number, "nested": [number, {"x": number}]}
    with transaction.atomic():
        audit_record(actor=Actor.system(), action="test.number", data=record_with)
    report = audit_verify()
    assert report.ok, report
