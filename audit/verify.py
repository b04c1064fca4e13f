"""Walk the audit chain and report the first place it is broken, and why.

`chain_verify` is a pure function over rows (tuples in `STORED_COLUMNS` order) so the
property tests can run it over generated logs; `audit_verify` feeds it the stored
chain in constant memory (through COPY on PostgreSQL, see `audit.copy_rows`; through
the ORM elsewhere) with the signed checkpoints. How a break is named, looking at rows
in sequence order:

- `deleted`: a sequence number is missing and does not turn up later.
- `reordered`: a sequence number is missing here but turns up later, or goes back.
- `inserted`: two events carry the same sequence number, or two consecutive events
  claim the same predecessor (an event was slipped in and the rest renumbered).
- `edited`: an event's content or links no longer match its hash.
- `checkpoint_mismatch`: the chain is self-consistent but differs from a signed
  checkpoint at that sequence number (it was re-hashed after an edit).
- `truncated`: a signed checkpoint covers events the chain no longer has.
- `checkpoint_invalid`: a checkpoint's signature does not verify.
- `checkpoint_untrusted`: a checkpoint handed to the verification (exported and kept
  outside) is signed by a key it does not trust, so it cannot be checked.

The last two are found by `audit.checkpoints.checkpoint_anchors`, with the keys
`audit.signing.trusted_keys` names: the current one, the retired ones still trusted,
and any the caller gives.
"""

import multiprocessing
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from dataclasses import asdict, dataclass, field

from django.db import connection, connections, transaction

from audit import signing
from audit.chain import GENESIS_HASH, STORED_COLUMNS, format_time, row_hash
from audit.checkpoints import Anchors, checkpoint_anchors, checkpoint_export
from audit.copy_rows import copy_row_hasher, copy_rows
from audit.models import AuditEvent, Checkpoint

FETCH_SIZE = 2_000

EDITED = "edited"
DELETED = "deleted"
INSERTED = "inserted"
REORDERED = "reordered"
CHECKPOINT_MISMATCH = "checkpoint_mismatch"
TRUNCATED = "truncated"


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
    # The keys checkpoints were checked with: fingerprint, source (signing.CURRENT,
    # RETIRED or GIVEN) and how many checkpoints' signatures each one checked.
    signing_keys: list[dict] = field(default_factory=list)

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
    start_previous_prev: str | None = None,
    hasher=None,
    encoded: bool = False,
) -> VerifyResult:
    """Verify rows in sequence order against each other and trusted checkpoints.

    A row is a sequence whose first item is the seq and whose last two are the
    stored prev_hash and hash; `hasher(prev_hash, row)` recomputes the hash
    (default: `audit.chain.row_hash` over `STORED_COLUMNS` tuples). `checkpoints` are
    (seq, head_hash) pairs whose signatures the caller has already checked. A
    range that does not start at the genesis event is verified by giving its
    first seq and the hash before it (and that event's own prev_hash, to name an
    insertion there as the whole walk would). With `encoded`, rows carry their seq and
    hashes as ASCII bytes (as the PostgreSQL path reads them) and `hasher`
    returns bytes.
    """
    hash_row = hasher or row_hash
    pending = sorted(checkpoints)
    if encoded:
        start_prev = start_prev.encode()
        if start_previous_prev is not None:
            start_previous_prev = start_previous_prev.encode()
        pending = [(seq, digest.encode()) for seq, digest in pending]
    result = VerifyResult(ok=True, checkpoints=len(pending))
    expected_seq, expected_prev, previous_prev = start_seq, start_prev, start_previous_prev
    cp_index = 0
    # Checkpoints before the range cannot be checked against it.
    while cp_index < len(pending) and pending[cp_index][0] < start_seq:
        cp_index += 1
    result.checkpoints = len(pending) - cp_index
    stream = iter(rows)
    # The walk keeps its state in locals (an attribute write per row costs).
    first_seq = last_seq = None
    events = 0
    head = b"" if encoded else ""
    next_checkpoint = pending[cp_index][0] if cp_index < len(pending) else None
    broken = None
    for row in stream:
        seq, prev_hash, stored = int(row[0]), row[-2], row[-1]
        if seq != expected_seq:
            broken = _sequence_break(stream, seq, expected_seq)
            break
        if prev_hash != expected_prev:
            if previous_prev is not None and prev_hash == previous_prev:
                broken = (
                    seq - 1,
                    INSERTED,
                    f"Events {seq - 1} and {seq} both follow the same predecessor: "
                    f"event {seq - 1} was inserted.",
                )
            else:
                broken = (seq, EDITED, f"Event {seq} does not link to the hash of event {seq - 1}.")
            break
        if hash_row(prev_hash, row) != stored:
            broken = (seq, EDITED, f"Event {seq} does not match its hash.")
            break
        if seq == next_checkpoint:
            while cp_index < len(pending) and pending[cp_index][0] == seq:
                if pending[cp_index][1] != stored:
                    broken = (
                        seq,
                        CHECKPOINT_MISMATCH,
                        f"The chain at event {seq} differs from the signed checkpoint: events "
                        "up to it were changed and re-hashed.",
                    )
                    break
                cp_index += 1
            if broken:
                break
            next_checkpoint = pending[cp_index][0] if cp_index < len(pending) else None
        if first_seq is None:
            first_seq = seq
        events += 1
        last_seq = seq
        head = stored
        previous_prev = prev_hash
        expected_prev = stored
        expected_seq = seq + 1
    result.first_seq, result.last_seq, result.events = first_seq, last_seq, events
    result.head_hash = head.decode() if encoded else head
    if broken:
        return _broken(result, *broken)
    if cp_index < len(pending):
        covered = pending[-1][0]
        return _broken(
            result,
            expected_seq,
            TRUNCATED,
            f"A signed checkpoint covers event {covered} but the chain ends at {expected_seq - 1}.",
        )
    return result


def _sequence_break(stream: Iterator, seq: int, expected_seq: int) -> tuple[int, str, str]:
    """Name the break when the row after `expected_seq - 1` carries `seq` instead."""
    if seq > expected_seq:
        if _turns_up(stream, expected_seq):
            return (
                expected_seq,
                REORDERED,
                f"Event {expected_seq} is out of place: event {seq} comes first.",
            )
        return (
            expected_seq,
            DELETED,
            f"Events {expected_seq}..{seq - 1} are missing."
            if seq - 1 > expected_seq
            else f"Event {expected_seq} is missing.",
        )
    if seq == expected_seq - 1:
        return (seq, INSERTED, f"Two events carry sequence number {seq}.")
    return (seq, REORDERED, f"Event {seq} appears after event {expected_seq - 1}.")


def _turns_up(stream: Iterator, seq: int) -> bool:
    """Consume the rest of the stream looking for seq (constant memory)."""
    return any(int(row[0]) == seq for row in stream)


def stored_rows(*, first_seq: int | None = None, last_seq: int | None = None) -> Iterator:
    """Yield stored events as STORED_COLUMNS tuples in seq order, streaming (any database)."""
    events = AuditEvent.objects.order_by("seq")
    if first_seq is not None:
        events = events.filter(seq__gte=first_seq)
    if last_seq is not None:
        events = events.filter(seq__lte=last_seq)
    for row in events.values_list(*STORED_COLUMNS).iterator(chunk_size=FETCH_SIZE):
        yield (row[0], format_time(row[1]), *row[2:])


def stored_chain(*, first_seq: int | None = None, last_seq: int | None = None):
    """Return (rows, hasher, encoded) for `chain_verify`, the fastest way the database allows."""
    if connection.vendor == "postgresql":
        return copy_rows(first_seq, last_seq), copy_row_hasher(), True
    return stored_rows(first_seq=first_seq, last_seq=last_seq), row_hash, False


# Below this many events one process verifies the whole chain: starting others
# costs more than it saves.
PARALLEL_MIN_EVENTS = 200_000


def audit_verify(
    *, extra_checkpoints: Iterable[dict] = (), trusted_keys: tuple = (), workers: int = 1
) -> VerifyResult:
    """Verify the stored chain against the stored and any exported checkpoints.

    `trusted_keys` are public keys trusted besides the configured ones (see
    `audit.checkpoints.checkpoint_anchors`).

    With `workers` > 1 on PostgreSQL (and outside any transaction: the workers
    read with their own connections) a long chain is cut into that many seq
    ranges, verified at once by forked processes; the result, and where and why
    a chain is broken, is the one a single walk gives.
    """
    started = time.perf_counter()
    parallel = workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block
    ranges = None
    with transaction.atomic():
        # Checkpoints first: every checkpoint read then covers events the row
        # query (a later snapshot) will see.
        stored = [checkpoint_export(cp) for cp in Checkpoint.objects.order_by("seq")]
        anchors = checkpoint_anchors(
            stored, extra_checkpoints, signing.trusted_keys(tuple(trusted_keys))
        )
        trusted = anchors.trusted
        if parallel:
            ranges = _ranges(workers)
        if ranges is None:
            result = _verify_range(WHOLE_CHAIN, trusted)
    if ranges is not None:
        result = _verify_ranges(ranges, trusted)
    return _with_signatures(result, anchors, started)


@dataclass(frozen=True)
class _Range:
    first: int
    last: int | None  # None: to the end of the chain
    prev: str = GENESIS_HASH  # the hash stored in the event before `first`
    previous_prev: str | None = None  # and that event's own prev_hash


WHOLE_CHAIN = _Range(1, None)


def _ranges(parts: int) -> list[_Range] | None:
    """Cut the chain into `parts` seq ranges, or None when one walk should do it all.

    None too when an event at a cut is missing: the chain is broken there and a
    single walk names the break.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(seq) FROM audit_auditevent")
        (head,) = cursor.fetchone()
        if head is None or head < PARALLEL_MIN_EVENTS:
            return None
        step = head // parts
        cuts = [1 + step * index for index in range(1, parts)]
        cursor.execute(
            "SELECT seq, prev_hash, hash FROM audit_auditevent WHERE seq = ANY(%s)",
            [[cut - 1 for cut in cuts]],
        )
        before = {seq: (prev_hash, digest) for seq, prev_hash, digest in cursor.fetchall()}
    if len(before) != len(cuts):
        return None
    ranges = [_Range(1, cuts[0] - 1)]
    for index, cut in enumerate(cuts):
        last = cuts[index + 1] - 1 if index + 1 < len(cuts) else None
        previous_prev, prev = before[cut - 1]
        ranges.append(_Range(cut, last, prev, previous_prev))
    return ranges


def _verify_range(part: _Range, trusted: list) -> VerifyResult:
    """Walk the stored events of one range in this process."""
    # The first range also reads any event numbered below 1, as a whole walk does.
    rows, hasher, encoded = stored_chain(
        first_seq=None if part.first == 1 else part.first, last_seq=part.last
    )
    if part.last is not None:
        # A checkpoint past this range is another range's to check.
        trusted = [checkpoint for checkpoint in trusted if checkpoint[0] <= part.last]
    # Closed at once when a break stops the walk early: an open COPY holds the
    # connection.
    with closing(rows):
        return chain_verify(
            rows,
            checkpoints=trusted,
            start_seq=part.first,
            start_prev=part.prev,
            start_previous_prev=part.previous_prev,
            hasher=hasher,
            encoded=encoded,
        )


# The parent's connections a forked worker holds on to (see _verify_part).
_INHERITED: list = []


def _verify_part(part: _Range, trusted: list) -> VerifyResult:
    """Verify one range in a forked worker, on a connection of its own."""
    # A connection the worker inherited open is the parent's socket (a browser test's
    # event loop can leave one that close_all() in the parent does not reach): the
    # worker never uses it, and keeps it so that it is never closed from here.
    for inherited in connections.all(initialized_only=True):
        if inherited.connection is not None:
            _INHERITED.append(inherited.connection)
            inherited.connection = None
    try:
        with transaction.atomic():
            return _verify_range(part, trusted)
    finally:
        connections.close_all()


def _verify_ranges(ranges: list[_Range], trusted: list) -> VerifyResult:
    """Verify the ranges in parallel and put their results together as one walk's."""
    # The workers are forked: no connection may be open to be shared with them.
    connections.close_all()
    context = multiprocessing.get_context("fork")
    with context.Pool(len(ranges)) as pool:
        parts = pool.starmap(_verify_part, [(part, trusted) for part in ranges])
    return _joined(ranges, parts, trusted)


def _joined(ranges: list[_Range], parts: Iterable[VerifyResult], trusted: list) -> VerifyResult:
    """Put the ranges' results together as one walk's; stop at the first break.

    `parts` may be lazy: a range after a break is not walked.
    """
    first_seq, events, result = None, 0, VerifyResult(ok=True)
    previous = result
    for index, (part, result) in enumerate(zip(ranges, parts, strict=False)):
        if index == 0:
            first_seq = result.first_seq
        result.first_seq = first_seq
        result.events += events
        if result.last_seq is None:
            # Broken at its first event: the walk got as far as the range before.
            result.last_seq, result.head_hash = previous.last_seq, previous.head_hash
        previous = result
        result.checkpoints = len(trusted)
        if not result.ok:
            return result
        if part.last is not None and result.last_seq != part.last:
            # An event at the end of a range is missing though it was there when the
            # chain was cut: walk it all, in one transaction.
            with transaction.atomic():
                return _verify_range(WHOLE_CHAIN, trusted)
        events = result.events
    return result


# How many events a stepwise verification walks between two progress reports.
STEP_EVENTS = 20_000


def _steps(head: int, step: int) -> list[_Range] | None:
    """Cut the chain up to `head` into ranges of `step` events, the last open-ended.

    None when an event before a cut is missing: a single walk names the break.
    """
    cuts = list(range(1 + step, head + 1, step))
    before = {
        seq: (prev_hash, digest)
        for seq, prev_hash, digest in AuditEvent.objects.filter(
            seq__in=[cut - 1 for cut in cuts]
        ).values_list("seq", "prev_hash", "hash")
    }
    if len(before) != len(cuts):
        return None
    bounds = [1, *cuts]
    ranges = []
    for index, first in enumerate(bounds):
        last = bounds[index + 1] - 1 if index + 1 < len(bounds) else None
        if first == 1:
            ranges.append(_Range(1, last))
        else:
            previous_prev, prev = before[first - 1]
            ranges.append(_Range(first, last, prev, previous_prev))
    return ranges


def audit_verify_in_steps(*, on_progress, step: int = STEP_EVENTS) -> VerifyResult:
    """Verify the stored chain as `audit_verify` does, reporting progress as it goes.

    The chain up to its head when the walk starts is cut into ranges of `step`
    events, each walked in a transaction of its own; after each one
    `on_progress(events_done, events_total)` is called outside any transaction,
    so what it writes is seen at once. Events are append-only, so ranges read in
    separate snapshots still make up one chain; the result, and where and why a
    chain is broken, is the one a single walk gives.
    """
    started = time.perf_counter()
    with transaction.atomic():
        stored = [checkpoint_export(cp) for cp in Checkpoint.objects.order_by("seq")]
        anchors = checkpoint_anchors(stored, (), signing.trusted_keys())
        trusted = anchors.trusted
        head = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        ranges = _steps(head, step) if head else None
    total = head
    on_progress(0, total)

    def walked():
        for part in ranges:
            with transaction.atomic():
                result = _verify_range(part, trusted)
            on_progress(min(part.last or total, total), total)
            yield result

    if ranges is None:
        with transaction.atomic():
            result = _verify_range(WHOLE_CHAIN, trusted)
    else:
        result = _joined(ranges, walked(), trusted)
    on_progress(total, total)
    return _with_signatures(result, anchors, started)


# Hashes alone cannot tell a whole trail from one cut short at its end or rewritten and
# re-hashed throughout; only a signed checkpoint can.
UNANCHORED = (
    "No signed checkpoint was checked: the hashes alone vouch for the chain, so a trail cut "
    "short at its end, or edited and re-hashed throughout, would pass. The audit-checkpoint "
    "job signs the head every 15 minutes; `manage.py audit checkpoint` signs it now."
)


def _with_signatures(result: VerifyResult, anchors: Anchors, started: float) -> VerifyResult:
    """Fold the checkpoints' verdict into the chain's, and time the whole.

    A broken chain is the verdict; a checkpoint that failed besides is then a warning.
    """
    result.warnings = anchors.warnings + result.warnings
    result.signing_keys = anchors.signing_keys
    if result.events and not result.checkpoints:
        result.warnings.append(UNANCHORED)
    if anchors.failure is not None and not result.ok:
        result.warnings.append(anchors.failure[2])
    elif anchors.failure is not None:
        _broken(result, *anchors.failure)
    result.seconds = round(time.perf_counter() - started, 3)
    return result
