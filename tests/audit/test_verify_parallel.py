"""The chain verified by forked workers over seq ranges says what one walk says."""

import pytest
from django.db import connection

from audit import verify
from audit.actors import Actor
from audit.checkpoints import checkpoint_create
from audit.verify import DELETED, EDITED, INSERTED, TRUNCATED, audit_verify
from tests.audit.test_verify_database import record, sql

# Committed rows: the workers read them over connections of their own.
pytestmark = pytest.mark.django_db(transaction=True)

EVENTS = 30  # three ranges of 10: cuts before events 11 and 21


@pytest.fixture
def chain(monkeypatch):
    monkeypatch.setattr("audit.verify.PARALLEL_MIN_EVENTS", 1)
    record(EVENTS // 2)
    checkpoint_create(actor=Actor.system("tests"))
    record(EVENTS - EVENTS // 2)


def both():
    """Return the verdict of three workers and of one walk, the workers' first."""
    parallel = audit_verify(workers=3)
    assert not connection.in_atomic_block
    return parallel, audit_verify(workers=1)


def verdict(result):
    return (result.ok, result.broken_seq, result.reason, result.events, result.first_seq)


def test_a_whole_chain_verifies_in_ranges_as_in_one_walk(chain, monkeypatch):
    cut = []
    real = verify._verify_ranges
    monkeypatch.setattr(
        verify,
        "_verify_ranges",
        lambda ranges, trusted: (
            cut.append([(part.first, part.last) for part in ranges]) or real(ranges, trusted)
        ),
    )
    parallel, single = both()
    assert cut == [[(1, 10), (11, 20), (21, None)]], "three workers, one range each"
    assert parallel.ok, parallel
    assert verdict(parallel) == verdict(single) == (True, None, "", EVENTS, 1)
    assert (parallel.last_seq, parallel.head_hash, parallel.checkpoints) == (
        single.last_seq,
        single.head_hash,
        1,
    )


@pytest.mark.parametrize("seq", [3, 10, 11, 20, 21, 30])
def test_an_edit_anywhere_is_found_where_one_walk_finds_it(chain, seq):
    sql("UPDATE audit_auditevent SET actor_label = 'mallory' WHERE seq = %s", [seq])
    parallel, single = both()
    assert verdict(parallel) == verdict(single)
    assert (parallel.ok, parallel.broken_seq, parallel.reason) == (False, seq, EDITED)


@pytest.mark.parametrize("seq", [10, 11, 25])
def test_a_deleted_event_at_or_beside_a_cut(chain, seq):
    """Event 10 is read to cut before 11: without it the workers hand over to one walk."""
    sql("DELETE FROM audit_auditevent WHERE seq = %s", [seq])
    parallel, single = both()
    assert verdict(parallel) == verdict(single)
    assert (parallel.broken_seq, parallel.reason) == (seq, DELETED)


def test_an_event_slipped_in_before_a_cut_is_named_as_one_walk_names_it(chain):
    """Event 11 re-linked to event 10's predecessor: event 10 was inserted."""
    sql(
        "UPDATE audit_auditevent SET prev_hash = "
        "(SELECT prev_hash FROM audit_auditevent WHERE seq = 10) WHERE seq = 11"
    )
    parallel, single = both()
    assert verdict(parallel) == verdict(single)
    assert (parallel.broken_seq, parallel.reason) == (10, INSERTED)


def test_a_cut_tail_is_caught_by_the_checkpoint_in_the_last_range(chain):
    sql("DELETE FROM audit_auditevent WHERE seq > 12")
    parallel, single = both()
    assert verdict(parallel) == verdict(single)
    assert (parallel.ok, parallel.reason) == (False, TRUNCATED)


def test_a_short_chain_is_walked_once(monkeypatch):
    def forked(ranges, trusted):
        raise AssertionError("a chain under PARALLEL_MIN_EVENTS is not cut into ranges")

    monkeypatch.setattr("audit.verify.PARALLEL_MIN_EVENTS", 1_000)
    monkeypatch.setattr(verify, "_verify_ranges", forked)
    record(5)
    assert verdict(audit_verify(workers=4)) == (True, None, "", 5, 1)
