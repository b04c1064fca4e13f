"""Generated audit logs, one tampering each: the verifier names the first broken seq and why."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.chain import GENESIS_HASH, HASHED_FIELDS, event_hash, row_hash
from audit.verify import (
    CHECKPOINT_MISMATCH,
    DELETED,
    EDITED,
    INSERTED,
    REORDERED,
    TRUNCATED,
    chain_verify,
)

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
short_text = st.text(max_size=16)

event_contents = st.fixed_dictionaries(
    {
        "created_at": st.datetimes().map(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")),
        "actor_type": st.sampled_from(["user", "token", "system"]),
        "actor_id": st.integers(min_value=0, max_value=999).map(str),
        "actor_label": short_text,
        "token_label": short_text,
        "action": st.sampled_from(["package.created", "signoff.decided", "gate.checked"]),
        "target_type": short_text,
        "target_id": short_text,
        "agent_slug": st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
        "package_version": st.none() | st.integers(min_value=1, max_value=500),
        "before": json_objects,
        "after": json_objects,
        "data": json_objects,
        "request_id": short_text,
    }
)


def as_row(fields: dict, prev_hash: str) -> tuple:
    """Return a stored row with the JSON columns as text, as PostgreSQL hands them back."""
    digest = event_hash(prev_hash, fields)
    values = [
        json.dumps(fields[name]) if name in ("before", "after", "data") else fields[name]
        for name in HASHED_FIELDS
    ]
    return (*values, prev_hash, digest)


def build(contents: list[dict], start_seq: int = 1, prev: str = GENESIS_HASH) -> list[tuple]:
    rows = []
    for offset, content in enumerate(contents):
        row = as_row({**content, "seq": start_seq + offset}, prev)
        rows.append(row)
        prev = row[-1]
    return rows


def fields_of(row: tuple) -> dict:
    fields = dict(zip(HASHED_FIELDS, row[:15], strict=True))
    for name in ("before", "after", "data"):
        fields[name] = json.loads(fields[name])
    return fields


def rehash_from(rows: list[tuple], index: int) -> list[tuple]:
    """Recompute every hash from index on, as a forger with database access would."""
    prev = rows[index - 1][-1] if index else GENESIS_HASH
    out = rows[:index]
    for row in rows[index:]:
        fresh = as_row(fields_of(row), prev)
        out.append(fresh)
        prev = fresh[-1]
    return out


logs = st.lists(event_contents, min_size=2, max_size=12).map(build)


@PROPERTY
@given(fields=event_contents, seq=st.integers(min_value=1, max_value=10**12), prev=st.text())
def test_a_row_hashes_as_its_fields(fields, seq, prev):
    fields = {**fields, "seq": seq}
    row = as_row(fields, prev)
    assert row_hash(prev, row) == event_hash(prev, fields)
    # Parsed JSON columns (as SQLite's ORM path gives them) hash the same.
    parsed = (*row[:11], fields["before"], fields["after"], fields["data"], *row[14:])
    assert row_hash(prev, parsed) == row[-1]


@PROPERTY
@given(rows=logs, data=st.data())
def test_untouched_log_verifies(rows, data):
    marks = data.draw(st.lists(st.sampled_from(rows), max_size=3))
    result = chain_verify(rows, checkpoints=[(row[0], row[-1]) for row in marks])
    assert result.ok, result
    assert (result.events, result.last_seq, result.head_hash) == (
        len(rows),
        len(rows),
        rows[-1][-1],
    )


@PROPERTY
@given(rows=logs, data=st.data())
def test_a_verified_range_starts_from_the_hash_before_it(rows, data):
    start = data.draw(st.integers(min_value=1, max_value=len(rows) - 1))
    result = chain_verify(rows[start:], start_seq=start + 1, start_prev=rows[start - 1][-1])
    assert result.ok and result.first_seq == start + 1


EDITABLE = [name for name in HASHED_FIELDS if name != "seq"] + ["prev_hash", "hash"]


def edited_value(name: str, value):
    if name in ("before", "after", "data"):
        return json.dumps({**json.loads(value), "\x00tampered": True})
    if name == "package_version":
        return 1 if value is None else value + 1
    if name in ("prev_hash", "hash"):
        return ("f" if value[0] != "f" else "e") + value[1:]
    return value + "x"


@PROPERTY
@given(rows=logs, data=st.data())
def test_edited_field_is_caught_at_its_event(rows, data):
    index = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
    name = data.draw(st.sampled_from(EDITABLE))
    position = [*HASHED_FIELDS, "prev_hash", "hash"].index(name)
    row = list(rows[index])
    row[position] = edited_value(name, row[position])
    rows[index] = tuple(row)
    result = chain_verify(rows)
    assert (result.ok, result.broken_seq, result.reason) == (False, index + 1, EDITED)


@PROPERTY
@given(rows=logs, data=st.data())
def test_deleted_event_is_caught(rows, data):
    index = data.draw(st.integers(min_value=0, max_value=len(rows) - 2))
    del rows[index]
    result = chain_verify(rows)
    assert (result.ok, result.broken_seq, result.reason) == (False, index + 1, DELETED)


@PROPERTY
@given(rows=logs, data=st.data(), forged=event_contents, renumber=st.booleans())
def test_inserted_event_is_caught(rows, data, forged, renumber):
    """A forged event, well linked to its predecessor, slipped in before event index+1."""
    index = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
    prev = rows[index - 1][-1] if index else GENESIS_HASH
    fake = as_row({**forged, "seq": index + 1}, prev)
    if renumber:
        # The rows after it moved up by one without being re-hashed.
        later = [(row[0] + 1, *row[1:]) for row in rows[index:]]
    else:
        later = rows[index:]
    rows = [*rows[:index], fake, *later]
    result = chain_verify(rows)
    assert (result.ok, result.broken_seq, result.reason) == (False, index + 1, INSERTED)


@PROPERTY
@given(rows=logs, data=st.data())
def test_swapped_events_are_caught(rows, data):
    first = data.draw(st.integers(min_value=0, max_value=len(rows) - 2))
    second = data.draw(st.integers(min_value=first + 1, max_value=len(rows) - 1))
    rows[first], rows[second] = rows[second], rows[first]
    result = chain_verify(rows)
    assert (result.ok, result.broken_seq, result.reason) == (False, first + 1, REORDERED)


@PROPERTY
@given(rows=logs, data=st.data())
def test_truncated_tail_is_caught_by_the_checkpoint(rows, data):
    head = (rows[-1][0], rows[-1][-1])
    cut = data.draw(st.integers(min_value=1, max_value=len(rows)))
    kept = rows[: len(rows) - cut]
    assert chain_verify(kept).ok, "without a checkpoint a cut tail leaves a valid chain"
    result = chain_verify(kept, checkpoints=[head])
    assert (result.ok, result.broken_seq, result.reason) == (False, len(kept) + 1, TRUNCATED)


@PROPERTY
@given(rows=logs, data=st.data())
def test_rehashed_chain_is_caught_by_the_signed_checkpoint(rows, data):
    index = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
    mark = data.draw(st.integers(min_value=index, max_value=len(rows) - 1))
    checkpoint = (rows[mark][0], rows[mark][-1])
    row = list(rows[index])
    row[6] = row[6] + ".forged"
    rows[index] = tuple(row)
    forged = rehash_from(rows, index)
    assert chain_verify(forged).ok, "a re-hashed chain is consistent on its own"
    result = chain_verify(forged, checkpoints=[checkpoint])
    assert (result.ok, result.broken_seq, result.reason) == (False, mark + 1, CHECKPOINT_MISMATCH)


def test_an_empty_chain_with_a_checkpoint_was_truncated():
    result = chain_verify([], checkpoints=[(3, "a" * 64)])
    assert (result.ok, result.broken_seq, result.reason) == (False, 1, TRUNCATED)


@pytest.mark.parametrize("start", [1, 5])
def test_an_empty_range_verifies(start):
    assert chain_verify([], start_seq=start).ok
