"""Everything that hashes events in the app agrees with audit.chain.event_hash.

The audit_append() database function (through audit_record) and the verifier's
reader of COPY rows, over events with every kind of value; the offline verifier
is held to the definition in tests/tools/test_verify_evidence.py.
"""

import json
import re
from contextlib import closing
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from audit.actors import Actor
from audit.chain import (
    CHAIN_LOCK_KEY,
    GENESIS_HASH,
    canonical_content,
    content_pieces,
    event_hash,
    format_time,
    stored_fields,
)
from audit.context import request_id_var
from audit.copy_rows import copy_row_hasher, copy_rows
from audit.models import AuditEvent
from audit.services import audit_record
from audit.verify import audit_verify
from tests.audit.strategies import TRICKY, stored_columns

IN_DATABASE = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hex_hashes = st.just(GENESIS_HASH) | st.text("0123456789abcdef", min_size=64, max_size=64)


def tricky_columns(text: str) -> dict:
    """Return stored columns with text in every string and in the JSON columns."""
    return {
        "created_at": datetime(2026, 2, 3, 4, 5, 6, 789, tzinfo=UTC),
        "actor_type": "user",
        "actor_id": text[:64],
        "actor_label": text,
        "token_label": text,
        "action": text[:64],
        "target_type": text[:64],
        "target_id": text[:64],
        "agent_slug": text[:64],
        "package_version": 2**31 - 1,
        "before": {text: text, "n": [0, -1, 1.5, 1e-07, 2**70, True, None]},
        "after": {"z": {"b": text, "a": {text: [text]}}},
        "data": [text, {"": None}],
        "request_id": text[:64],
    }


def append(columns: dict) -> AuditEvent:
    """Append the columns' values through audit_record and return the stored event."""
    reset = request_id_var.set(columns["request_id"])
    try:
        with transaction.atomic():
            event = audit_record(
                actor=Actor(
                    type=columns["actor_type"],
                    id=columns["actor_id"],
                    label=columns["actor_label"],
                    token_label=columns["token_label"],
                ),
                action=columns["action"],
                agent_slug=columns["agent_slug"],
                package_version=columns["package_version"],
                before=columns["before"],
                after=columns["after"],
                data=columns["data"],
            )
    finally:
        request_id_var.reset(reset)
    return AuditEvent.objects.get(pk=event.pk)


@settings(max_examples=200)
@given(columns=stored_columns, seq=st.integers(min_value=1, max_value=2**62))
def test_the_pieces_around_time_and_number_make_the_canonical_content(columns, seq):
    fields = {**columns, "seq": seq, "created_at": format_time(columns["created_at"])}
    head, mid, tail = content_pieces(fields)
    content = head + json.dumps(fields["created_at"]) + mid + str(seq) + tail
    assert content == canonical_content(fields)


@pytest.mark.django_db
@IN_DATABASE
@given(columns=stored_columns)
def test_the_database_appender_hashes_as_the_definition(columns):
    event = append(columns)
    assert event.hash == event_hash(event.prev_hash, stored_fields(event))


@pytest.mark.django_db
@pytest.mark.parametrize("text", TRICKY)
def test_tricky_text_is_appended_hashed_and_verified_as_defined(text):
    event = append(tricky_columns(text))
    assert event.hash == event_hash(event.prev_hash, stored_fields(event))
    assert audit_verify().ok


@pytest.mark.django_db
@IN_DATABASE
@given(
    events=st.lists(stored_columns, min_size=1, max_size=3),
    first_seq=st.integers(min_value=1, max_value=2**62),
    prev_hash=hex_hashes,
)
@example(events=[tricky_columns(text) for text in TRICKY], first_seq=1, prev_hash=GENESIS_HASH)
def test_the_copy_reader_hashes_stored_events_as_the_definition(events, first_seq, prev_hash):
    with transaction.atomic():
        AuditEvent.objects.bulk_create(
            AuditEvent(seq=first_seq + offset, prev_hash=prev_hash, hash="", **columns)
            for offset, columns in enumerate(events)
        )
        stored = {event.seq: event for event in AuditEvent.objects.all()}
        hash_row = copy_row_hasher()
        with closing(copy_rows()) as rows:
            hashes = {int(row[0]): hash_row(row[15], row).decode() for row in rows}
        transaction.set_rollback(True)
    assert hashes == {
        seq: event_hash(prev_hash, stored_fields(event)) for seq, event in stored.items()
    }


@pytest.mark.django_db
def test_the_database_appender_takes_the_chain_lock_key():
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_functiondef('audit_append'::regproc)")
        (source,) = cursor.fetchone()
    assert re.findall(r"pg_advisory_xact_lock\((\w+)\)", source) == [str(CHAIN_LOCK_KEY)]
