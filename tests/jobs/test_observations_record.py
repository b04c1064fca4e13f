"""observations_record: validate the whole batch, upsert aggregated rows, one audit event."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agents.models import Observation
from agents.observations import observations_record
from audit.actors import Actor
from config.errors import InvalidInput

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("tests")


def test_records_aggregated_rows_and_one_audit_event(agent, audit_since):
    since = audit_since()
    earlier = timezone.now() - timedelta(hours=2)
    items = [
        {"kind": "tool", "identifier": "crm.lookup", "access": "read"},
        {"kind": "tool", "identifier": "crm.lookup", "access": "read", "count": 4},
        {"kind": "tool", "identifier": "crm.lookup", "access": "write", "seen_at": earlier},
        {"kind": "model", "identifier": "sha256:abc", "source": "ci"},
    ]
    assert observations_record(actor=ACTOR, agent=agent, items=items) == 4
    rows = {(o.kind, o.identifier, o.access): o for o in Observation.objects.filter(agent=agent)}
    assert set(rows) == {
        ("tool", "crm.lookup", "read"),
        ("tool", "crm.lookup", "write"),
        ("model", "sha256:abc", ""),
    }
    assert rows[("tool", "crm.lookup", "read")].count == 5
    assert rows[("tool", "crm.lookup", "write")].first_seen == earlier
    assert rows[("model", "sha256:abc", "")].source == "ci"
    events = since()
    assert [e.action for e in events] == ["observations.recorded"]
    assert events[0].actor_label == "tests" and events[0].data["items"] == 4


def test_repeated_batches_add_counts_and_move_last_seen(agent):
    old = timezone.now() - timedelta(days=1)
    item = {"kind": "dataset", "identifier": "orders", "access": "read", "count": 2}
    observations_record(actor=ACTOR, agent=agent, items=[dict(item, seen_at=old.isoformat())])
    observations_record(actor=ACTOR, agent=agent, items=[item])
    row = Observation.objects.get(agent=agent)
    assert row.count == 4
    assert row.first_seen == old
    assert row.last_seen > old + timedelta(hours=23)


def test_one_bad_item_stores_nothing_and_names_every_field(agent, audit_since):
    since = audit_since()
    items = [
        {"kind": "tool", "identifier": "ok", "access": "read"},
        {"kind": "teleport", "identifier": "", "access": "root", "count": 0},
        {"kind": "tool", "identifier": "x", "access": "read", "seen_at": "yesterday"},
    ]
    with pytest.raises(InvalidInput) as caught:
        observations_record(actor=ACTOR, agent=agent, items=items)
    assert set(caught.value.fields) == {
        "items[1].kind",
        "items[1].identifier",
        "items[1].access",
        "items[1].count",
        "items[2].seen_at",
    }
    assert not Observation.objects.exists()
    assert since() == []


@pytest.mark.parametrize("size", [10, 200])
def test_queries_do_not_grow_with_the_batch(agent, size):
    items = [
        {"kind": "endpoint", "identifier": f"https://api.example.com/{n}", "access": "read"}
        for n in range(size)
    ]
    with CaptureQueriesContext(connection) as queries:
        observations_record(actor=ACTOR, agent=agent, items=items)
    assert Observation.objects.filter(agent=agent).count() == size
    # savepoints, the upsert, and the audit append (lock, head, insert)
    assert len(queries) <= 8


def test_any_offset_python_reads_is_stored_in_utc(agent):
    # PostgreSQL refuses offsets past ±15:59; this one reached it as sent and answered 500.
    sent = "2026-01-02T04:00:00-21:48"
    observations_record(
        actor=ACTOR,
        agent=agent,
        items=[{"kind": "tool", "identifier": "x", "access": "read", "seen_at": sent}],
    )
    row = Observation.objects.get(agent=agent)
    assert row.first_seen.isoformat() == "2026-01-03T01:48:00+00:00"


def test_a_time_that_is_no_time_in_utc_is_refused_by_index(agent):
    sent = ["2026-01-01T00:00:00", "2026-02-30T00:00:00Z", "0001-01-01T00:00:00+05:00", 17]
    items = [{"kind": "tool", "identifier": "x", "access": "read"}] + [
        {"kind": "tool", "identifier": "y", "access": "read", "seen_at": value} for value in sent
    ]
    with pytest.raises(InvalidInput) as caught:
        observations_record(actor=ACTOR, agent=agent, items=items)
    assert caught.value.fields == {
        "items[1].seen_at": ["Must be an ISO 8601 date-time with a time zone."],
        "items[2].seen_at": ["Must be an ISO 8601 date-time."],
        "items[3].seen_at": ["Must fall within the years 1 to 9999 in UTC."],
        "items[4].seen_at": ["Must be an ISO 8601 date-time."],
    }
    assert not Observation.objects.exists()
