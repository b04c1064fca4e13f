"""The one definition of an audit event's hash, and the lock that keeps the chain linear.

An event's hash is the SHA-256 of the hash before it, a newline, and the
canonical JSON of its hashed fields (`event_hash`). Everything else that hashes
events is held to `event_hash` by a test: the database appender `audit_append()`
(tests/audit/test_event_hash.py), the verifier's reader of PostgreSQL's COPY
rows (`audit.copy_rows`, same tests) and the offline `tools/verify-evidence`,
which carries a standard-library copy of this definition
(tests/tools/test_verify_evidence.py).
"""

import hashlib
import json

GENESIS_HASH = "0" * 64

# The PostgreSQL advisory lock that serializes appends; the audit_append()
# function (audit/migrations/0004) takes the same key, as a test asserts.
CHAIN_LOCK_KEY = 202014289

HASHED_FIELDS = (
    "seq",
    "created_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "token_label",
    "action",
    "target_type",
    "target_id",
    "agent_slug",
    "package_version",
    "before",
    "after",
    "data",
    "request_id",
)

# Every stored column of an event, in the order exports, the API and the verifier list them.
STORED_COLUMNS = (*HASHED_FIELDS, "prev_hash", "hash")

JSON_FIELDS = ("before", "after", "data")

# Made once; values read from JSON have no cycles for a check to look for.
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str, check_circular=False
)


def canonical_json(value) -> str:
    """Return a value's canonical JSON: sorted keys, no spaces, text left unescaped.

    The text of `json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False, default=str)`.
    """
    return _ENCODER.encode(value)


def canonical_content(fields: dict) -> str:
    """Return the canonical JSON of an event's hashed fields."""
    return canonical_json({name: fields[name] for name in HASHED_FIELDS})


def event_hash(prev_hash: str, fields: dict) -> str:
    """Return the SHA-256 linking an event's content to the hash before it."""
    content = prev_hash + "\n" + canonical_content(fields)
    return hashlib.sha256(content.encode()).hexdigest()


def format_time(value) -> str:
    """Return an event time (an aware UTC datetime) in its hashed form.

    `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the year always four digits, as PostgreSQL's
    `to_char(..., 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')` writes it.
    """
    return f"{value.year:04d}-{value:%m-%dT%H:%M:%S.%f}Z"


def stored_fields(event) -> dict:
    """Return the hashed fields of a stored event, its time in the hashed form."""
    fields = {name: getattr(event, name) for name in HASHED_FIELDS}
    fields["created_at"] = format_time(event.created_at)
    return fields


def row_fields(row) -> dict:
    """Return the hashed fields of a row in `STORED_COLUMNS` order, JSON columns parsed.

    The time is expected in its hashed form; JSON columns may come as JSON text.
    """
    fields = dict(zip(HASHED_FIELDS, row[: len(HASHED_FIELDS)], strict=True))
    for name in JSON_FIELDS:
        if isinstance(fields[name], str):
            fields[name] = json.loads(fields[name])
    return fields


def row_hash(prev_hash: str, row) -> str:
    """Return the hash of a row in `STORED_COLUMNS` order (see `row_fields`)."""
    return event_hash(prev_hash, row_fields(row))


def content_pieces(fields: dict) -> tuple[str, str, str]:
    """Return the canonical content cut around the time and number the database fills in.

    The audit_append() function numbers and times the event under the chain lock
    and hashes `head + json(created_at) + mid + str(seq) + tail`, which is
    `canonical_content(fields)`: a canonical JSON object's members are joined by
    commas in key order, so each piece is the members between two cuts.
    """
    names = sorted(HASHED_FIELDS)
    at_time, at_seq = names.index("created_at"), names.index("seq")

    def members(part) -> str:
        return canonical_json({name: fields[name] for name in part})[1:-1]

    head, mid = members(names[:at_time]), members(names[at_time + 1 : at_seq])
    tail = members(names[at_seq + 1 :])
    return (
        "{" + head + ("," if head else "") + '"created_at":',
        "," + mid + ("," if mid else "") + '"seq":',
        ("," + tail if tail else "") + "}",
    )
