"""Walk the audit chain and report the first place it is broken, and why.

`chain_verify` is a pure function over rows (tuples in `ROW_COLUMNS` order) so the
property tests can run it over generated logs; `audit_verify` feeds it the stored
chain through a server-side cursor, in constant memory, with the signed
checkpoints. How a break is named, looking at rows in sequence order:

- `deleted`: a sequence number is missing and does not turn up later.
- `reordered`: a sequence number is missing here but turns up later, or goes back.
- `inserted`: two events carry the same sequence number, or two consecutive events
  claim the same predecessor (an event was slipped in and the rest renumbered).
- `edited`: an event's content or links no longer match its hash.
- `checkpoint_mismatch`: the chain is self-consistent but differs from a signed
  checkpoint at that sequence number (it was re-hashed after an edit).
- `truncated`: a signed checkpoint covers events the chain no longer has.
- `checkpoint_invalid`: a checkpoint's signature does not verify.
"""

import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field

from django.db import connection, transaction

from audit.chain import GENESIS_HASH, ROW_COLUMNS, format_time, row_hasher
from audit.models import AuditEvent, Checkpoint

FETCH_SIZE = 10_000
_cursor_names = itertools.count()

EDITED = "edited"
DELETED = "deleted"
INSERTED = "inserted"
REORDERED = "reordered"
CHECKPOINT_MISMATCH = "checkpoint_mismatch"
TRUNCATED = "truncated"
CHECKPOINT_INVALID = "checkpoint_invalid"


@dataclass
class VerifyResult:
    ok: bool
    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_hash: str = ""
    checkpoints: int = 0
    broken_seq: int | None = None
    reason: str = ""
    detail: str = ""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def _broken(result: VerifyResult, seq: int, reason: str, detail: str) -> VerifyResult:
    result.ok = False
    result.broken_seq = seq
    result.reason = reason
    result.detail = detail
    return result


def chain_verify(
    rows: Iterable,
    *,
    checkpoints: Iterable[tuple[int, str]] = (),
    start_seq: int = 1,
    start_prev: str = GENESIS_HASH,
) -> VerifyResult:
    """Verify rows in sequence order against each other and trusted checkpoints.

    `checkpoints` are (seq, head_hash) pairs whose signatures the caller has
    already checked. A range that does not start at the genesis event is
    verified by giving its first seq and the hash before it.
    """
    hash_row = row_hasher()
    pending = sorted(checkpoints)
    result = VerifyResult(ok=True, checkpoints=len(pending))
    expected_seq, expected_prev, previous_prev = start_seq, start_prev, None
    cp_index = 0
    # Checkpoints before the range cannot be checked against it.
    while cp_index < len(pending) and pending[cp_index][0] < start_seq:
        cp_index += 1
    result.checkpoints = len(pending) - cp_index
    stream = iter(rows)
    for row in stream:
        seq, prev_hash, stored = row[0], row[15], row[16]
        if seq != expected_seq:
            if seq > expected_seq:
                if _turns_up(stream, expected_seq):
                    return _broken(
                        result,
                        expected_seq,
                        REORDERED,
                        f"Event {expected_seq} is out of place: event {seq} comes first.",
                    )
                return _broken(
                    result,
                    expected_seq,
                    DELETED,
                    f"Events {expected_seq}..{seq - 1} are missing."
                    if seq - 1 > expected_seq
                    else f"Event {expected_seq} is missing.",
                )
            if seq == expected_seq - 1:
                return _broken(result, seq, INSERTED, f"Two events carry sequence number {seq}.")
            return _broken(
                result, seq, REORDERED, f"Event {seq} appears after event {expected_seq - 1}."
            )
        if prev_hash != expected_prev:
            if previous_prev is not None and prev_hash == previous_prev:
                return _broken(
                    result,
                    seq - 1,
                    INSERTED,
                    f"Events {seq - 1} and {seq} both follow the same predecessor: "
                    f"event {seq - 1} was inserted.",
                )
            return _broken(
                result, seq, EDITED, f"Event {seq} does not link to the hash of event {seq - 1}."
            )
        if hash_row(prev_hash, row) != stored:
            return _broken(result, seq, EDITED, f"Event {seq} does not match its hash.")
        while cp_index < len(pending) and pending[cp_index][0] == seq:
            if pending[cp_index][1] != stored:
                return _broken(
                    result,
                    seq,
                    CHECKPOINT_MISMATCH,
                    f"The chain at event {seq} differs from the signed checkpoint: events up "
                    "to it were changed and re-hashed.",
                )
            cp_index += 1
        if result.first_seq is None:
            result.first_seq = seq
        result.events += 1
        result.last_seq = seq
        result.head_hash = stored
        previous_prev = prev_hash
        expected_prev = stored
        expected_seq = seq + 1
    if cp_index < len(pending):
        covered = pending[-1][0]
        return _broken(
            result,
            expected_seq,
            TRUNCATED,
            f"A signed checkpoint covers event {covered} but the chain ends at {expected_seq - 1}.",
        )
    return result


def _turns_up(stream: Iterator, seq: int) -> bool:
    """Consume the rest of the stream looking for seq (constant memory)."""
    return any(row[0] == seq for row in stream)


# The stored columns in ROW_COLUMNS order, the time in `format_time` form and the
# JSON columns as text, so nothing is parsed or formatted per row in Python but
# the JSON the canonical form needs.
_PG_COLUMNS = {
    "created_at": "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    "before": "before::text",
    "after": "after::text",
    "data": "data::text",
}
PG_ROW_SELECT = ", ".join(_PG_COLUMNS.get(name, name) for name in ROW_COLUMNS)


def stored_rows(*, first_seq: int | None = None, last_seq: int | None = None) -> Iterator:
    """Yield stored events as ROW_COLUMNS tuples in seq order, streaming.

    On PostgreSQL a server-side cursor fetches FETCH_SIZE rows at a time; the
    caller must be inside a transaction (a cursor without hold lives in one).
    """
    if connection.vendor == "postgresql":
        where, params = [], []
        if first_seq is not None:
            where.append("seq >= %s")
            params.append(first_seq)
        if last_seq is not None:
            where.append("seq <= %s")
            params.append(last_seq)
        sql = f"SELECT {PG_ROW_SELECT} FROM audit_auditevent"  # noqa: S608 - fixed columns
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq"
        connection.ensure_connection()
        with connection.connection.cursor(name=f"audit_rows_{next(_cursor_names)}") as cursor:
            cursor.itersize = FETCH_SIZE
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(FETCH_SIZE):
                yield from batch
        return
    events = AuditEvent.objects.order_by("seq")
    if first_seq is not None:
        events = events.filter(seq__gte=first_seq)
    if last_seq is not None:
        events = events.filter(seq__lte=last_seq)
    for row in events.values_list(*ROW_COLUMNS).iterator(chunk_size=FETCH_SIZE):
        yield (row[0], format_time(row[1]), *row[2:])


def trusted_checkpoints(documents: Iterable[dict], result: VerifyResult, key=None) -> list:
    """Return (seq, head_hash) of the checkpoints whose signature holds.

    A checkpoint signed by this key but with a bad signature breaks the result; one
    signed by another key (e.g. before a rotation) is only a warning.
    """
    from audit import signing
    from audit.checkpoints import checkpoint_signature_valid

    key = key or signing.public_key()
    known = signing.fingerprint(key)
    trusted = []
    for document in documents:
        if document.get("public_key_fingerprint") != known:
            result.warnings.append(
                f"Checkpoint at {document.get('seq')} is signed by another key "
                f"({document.get('public_key_fingerprint')}); not used."
            )
            continue
        if not checkpoint_signature_valid(document, key):
            _broken(
                result,
                int(document.get("seq") or 0),
                CHECKPOINT_INVALID,
                f"The checkpoint at {document.get('seq')} has an invalid signature.",
            )
            continue
        trusted.append((int(document["seq"]), str(document["head_hash"])))
    return trusted


def audit_verify(*, extra_checkpoints: Iterable[dict] = (), key=None) -> VerifyResult:
    """Verify the stored chain against the stored and any exported checkpoints."""
    from audit.checkpoints import checkpoint_export

    started = time.perf_counter()
    with transaction.atomic():
        # Checkpoints first: every checkpoint read then covers events the row
        # query (a later snapshot) will see.
        documents = [checkpoint_export(cp) for cp in Checkpoint.objects.order_by("seq")]
        documents.extend(extra_checkpoints)
        signatures = VerifyResult(ok=True)
        trusted = trusted_checkpoints(documents, signatures, key)
        result = chain_verify(stored_rows(), checkpoints=trusted)
    result.warnings = signatures.warnings + result.warnings
    if result.ok and not signatures.ok:
        result.ok = False
        result.broken_seq = signatures.broken_seq
        result.reason = signatures.reason
        result.detail = signatures.detail
    result.seconds = round(time.perf_counter() - started, 3)
    return result
