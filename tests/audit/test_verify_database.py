"""The stored chain, tampered with in the database itself, and the signed checkpoints."""

import json

import pytest
from django.db import DatabaseError, connection, transaction

from audit.actors import Actor
from audit.chain import GENESIS_HASH, event_hash, stored_fields
from audit.checkpoints import (
    CHECKPOINT_INVALID,
    checkpoint_create,
    checkpoint_export,
    checkpoint_signature_valid,
)
from audit.models import AuditEvent, Checkpoint
from audit.services import audit_record
from audit.verify import (
    CHECKPOINT_MISMATCH,
    DELETED,
    EDITED,
    INSERTED,
    TRUNCATED,
    UNANCHORED,
    audit_verify,
    chain_verify,
    stored_rows,
)

pytestmark = pytest.mark.django_db


def record(n: int) -> None:
    with transaction.atomic():
        for i in range(n):
            audit_record(
                actor=Actor.system("tests"),
                action="test.event",
                agent_slug=f"agent-{i % 3}",
                package_version=i % 4 or None,
                before={"state": "draft"},
                after={"state": "in_review", "n": i, "nested": {"b": [1, 2.5, "é"], "a": None}},
                data={"i": i, "comment": 'quote " and \\ backslash\nnewline'},
            )


def sql(statement: str, params=(), table: str = "audit_auditevent") -> None:
    """Run raw SQL with the append-only triggers off, inside the test's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute(statement, params)
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def test_untouched_chain_verifies_with_its_checkpoints():
    record(5)
    first = checkpoint_create(actor=Actor.system("tests"))
    record(4)
    last = checkpoint_create(actor=Actor.system("tests"))
    result = audit_verify()
    assert result.ok, result
    assert (result.events, result.last_seq, result.checkpoints) == (9, 9, 2)
    assert (first.seq, last.seq) == (5, 9)
    assert result.head_hash == AuditEvent.objects.get(seq=9).hash
    assert result.warnings == []


def test_a_chain_no_checkpoint_vouches_for_passes_with_a_warning_saying_what_it_cannot_catch():
    record(3)
    result = audit_verify()
    assert (result.ok, result.checkpoints) == (True, 0)
    assert result.warnings == [UNANCHORED]
    assert "cut short" in UNANCHORED
    checkpoint_create(actor=Actor.system("tests"))
    assert audit_verify().warnings == []


def test_checkpoint_is_idempotent_signed_and_exportable():
    assert checkpoint_create(actor=Actor.system("tests")) is None
    record(3)
    checkpoint = checkpoint_create(actor=Actor.system("tests"))
    assert checkpoint_create(actor=Actor.system("tests")).pk == checkpoint.pk
    assert Checkpoint.objects.count() == 1
    document = json.loads(json.dumps(checkpoint_export(checkpoint)))
    assert document["seq"] == 3
    assert document["head_hash"] == AuditEvent.objects.get(seq=3).hash
    assert document["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    assert checkpoint_signature_valid(document)
    assert not checkpoint_signature_valid({**document, "seq": 2})
    # JSON reads 1e400 as infinity, which no int holds; 3.0 and "3" are not whole JSON numbers.
    for seq in (float("inf"), float("-inf"), 3.0, "3", True):
        assert not checkpoint_signature_valid({**document, "seq": seq})
    assert not checkpoint_signature_valid({**document, "head_hash": "0" * 64})


def test_edited_row_is_reported_at_its_seq():
    record(6)
    sql("UPDATE audit_auditevent SET data = '{\"i\": 99}' WHERE seq = 4")
    result = audit_verify()
    assert (result.ok, result.broken_seq, result.reason) == (False, 4, EDITED)


def test_deleted_row_is_reported_at_its_seq():
    record(6)
    sql("DELETE FROM audit_auditevent WHERE seq = 3")
    result = audit_verify()
    assert (result.ok, result.broken_seq, result.reason) == (False, 3, DELETED)


def test_inserted_row_with_the_rest_renumbered_is_reported():
    record(5)
    forged_prev = AuditEvent.objects.get(seq=2).hash
    sql("UPDATE audit_auditevent SET seq = -seq WHERE seq >= 3")
    sql("UPDATE audit_auditevent SET seq = 1 - seq WHERE seq < 0")
    forged = {**stored_fields(AuditEvent.objects.get(seq=1)), "seq": 3, "action": "forged"}
    sql(
        "INSERT INTO audit_auditevent (seq, created_at, actor_type, actor_id, actor_label, "
        "token_label, action, target_type, target_id, agent_slug, package_version, before, "
        "after, data, request_id, prev_hash, hash) SELECT 3, created_at, actor_type, actor_id, "
        "actor_label, token_label, 'forged', target_type, target_id, agent_slug, "
        "package_version, before, after, data, request_id, %s, %s FROM audit_auditevent "
        "WHERE seq = 1",
        [forged_prev, event_hash(forged_prev, forged)],
    )
    result = audit_verify()
    assert (result.ok, result.broken_seq, result.reason) == (False, 3, INSERTED)


def test_rehashed_chain_is_caught_only_by_the_signed_checkpoint():
    record(6)
    checkpoint_create(actor=Actor.system("tests"))
    sql("UPDATE audit_auditevent SET action = 'package.rejected' WHERE seq = 2")
    prev = AuditEvent.objects.get(seq=1).hash
    for event in AuditEvent.objects.filter(seq__gte=2).order_by("seq"):
        digest = event_hash(prev, stored_fields(event))
        sql(
            "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE seq = %s",
            [prev, digest, event.seq],
        )
        prev = digest
    result = audit_verify()
    assert (result.ok, result.broken_seq, result.reason) == (False, 6, CHECKPOINT_MISMATCH)


def test_truncated_tail_is_caught_by_an_exported_checkpoint():
    record(6)
    exported = checkpoint_export(checkpoint_create(actor=Actor.system("tests")))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Checkpoint.objects.all().delete()
    sql("DELETE FROM audit_checkpoint", table="audit_checkpoint")
    sql("DELETE FROM audit_auditevent WHERE seq > 4")
    assert audit_verify().ok, "with the checkpoint gone too, the stored chain looks whole"
    result = audit_verify(extra_checkpoints=[exported])
    assert (result.ok, result.broken_seq, result.reason) == (False, 5, TRUNCATED)


def test_forged_checkpoint_signature_breaks_verification():
    record(3)
    checkpoint = checkpoint_create(actor=Actor.system("tests"))
    sql(
        "UPDATE audit_checkpoint SET signature = 'AAAA' WHERE id = %s",
        [checkpoint.pk],
        table="audit_checkpoint",
    )
    result = audit_verify()
    assert (result.ok, result.broken_seq, result.reason) == (False, 3, CHECKPOINT_INVALID)


def test_portable_row_path_agrees_with_the_server_rendered_one(monkeypatch):
    """The ORM path (SQLite's) streams in batches and verifies the same chain."""
    monkeypatch.setattr("audit.verify.FETCH_SIZE", 2)
    record(5)
    with transaction.atomic():
        assert chain_verify(stored_rows()).ok
    result = audit_verify()
    assert (result.ok, result.events, result.first_seq) == (True, 5, 1)
    assert AuditEvent.objects.get(seq=1).prev_hash == GENESIS_HASH
    sql("UPDATE audit_auditevent SET actor_label = 'someone' WHERE seq = 5")
    assert (audit_verify().broken_seq, audit_verify().reason) == (5, EDITED)
