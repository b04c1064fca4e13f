"""Hashing of audit events: the one definition of an event's canonical content.

The offline verifier (`tools/verify-evidence`) reimplements exactly this with the
standard library, so keep the two in step.
"""

import hashlib
import json

GENESIS_HASH = "0" * 64

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


# Every stored column of an event, in the order exports and the API list them.
STORED_COLUMNS = (*HASHED_FIELDS, "prev_hash", "hash")


def stored_fields(event) -> dict:
    """Return the hashed fields of a stored event, its time in the hashed form."""
    fields = {name: getattr(event, name) for name in HASHED_FIELDS}
    fields["created_at"] = format_time(event.created_at)
    return fields


def canonical_content(fields: dict) -> str:
    """Return the canonical JSON of an event's hashed fields."""
    return json.dumps(
        {name: fields[name] for name in HASHED_FIELDS},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )


def event_hash(prev_hash: str, fields: dict) -> str:
    """Return the SHA-256 linking an event's content to the hash before it."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(b"\n")
    digest.update(canonical_content(fields).encode())
    return digest.hexdigest()


# The fields filled in by the database appender (audit_append), in the hashed content.
DATABASE_FIELDS = ("created_at", "seq")


def content_pieces(fields: dict) -> tuple[str, str, str]:
    """Return the canonical content cut around `created_at` and `seq`.

    `head + json(created_at) + mid + str(seq) + tail` is byte for byte
    `canonical_content(fields)`: top-level keys in sorted order, each value
    encoded as `json.dumps` encodes it nested. The database appender fills the
    two gaps under the chain lock (see audit/migrations/0004).
    """
    pieces: list[list[str]] = [[]]
    for name in sorted(HASHED_FIELDS):
        if name in DATABASE_FIELDS:
            pieces[-1].append(f'"{name}":')
            pieces.append([])
        else:
            pieces[-1].append(f'"{name}":{canonical_nested(fields[name])},')
    head, mid, tail = ("".join(piece) for piece in pieces)
    return "{" + head, "," + mid, ("," + tail[:-1] if tail else "") + "}"


def format_time(value) -> str:
    """Return the fixed textual form of an event time used inside the hash."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# The fast path below builds the same bytes as `canonical_content` without a dict
# and a sort per event: the top-level keys are written in their sorted order once,
# strings go through the encoder `json.dumps` itself uses, and the JSON columns,
# which arrive as text, are canonicalized once per distinct text.
encode_string = json.encoder.c_encode_basestring or json.encoder.py_encode_basestring
canonical_nested = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
).encode
if json.encoder.c_make_encoder is not None:
    # The C encoder `json.dumps` builds on each call, built once: half the cost.
    _c_encoder = json.encoder.c_make_encoder(
        None, str, encode_string, None, ":", ",", True, False, True
    )

    def canonical_nested(value, _join="".join, _encoder=_c_encoder) -> str:  # noqa: F811
        if isinstance(value, str):
            return encode_string(value)
        return _join(_encoder(value, 0))


_NESTED_CACHE_LIMIT = 4096


def nested_canonicalizer():
    """Return a function mapping a JSON column's text to its canonical form, memoized."""
    cache: dict[str, str] = {"{}": "{}"}
    loads = json.loads

    def canonical(text) -> str:
        if isinstance(text, dict | list):
            return canonical_nested(text)
        if text is None:
            return "null"
        found = cache.get(text)
        if found is None:
            found = canonical_nested(loads(text))
            if len(cache) >= _NESTED_CACHE_LIMIT:
                cache.clear()
                cache["{}"] = "{}"
            cache[text] = found
        return found

    return canonical


def row_hasher():
    """Return a function hashing one stored row (see `ROW_COLUMNS`) fast.

    The function takes the hashed fields in `ROW_COLUMNS` order, with `created_at`
    already in `format_time` form and the JSON columns as JSON text (or parsed
    values), plus the previous hash, and returns the event hash. The result equals
    `event_hash(prev_hash, fields)` byte for byte; the tests hold the two together.
    """
    enc = encode_string
    nested = nested_canonicalizer()
    sha256 = hashlib.sha256

    def hash_row(prev_hash: str, row) -> str:
        (
            seq,
            created_at,
            actor_type,
            actor_id,
            actor_label,
            token_label,
            action,
            target_type,
            target_id,
            agent_slug,
            package_version,
            before,
            after,
            data,
            request_id,
        ) = row[:15]
        content = (
            '{"action":'
            + enc(action)
            + ',"actor_id":'
            + enc(actor_id)
            + ',"actor_label":'
            + enc(actor_label)
            + ',"actor_type":'
            + enc(actor_type)
            + ',"after":'
            + nested(after)
            + ',"agent_slug":'
            + enc(agent_slug)
            + ',"before":'
            + nested(before)
            + ',"created_at":'
            + enc(created_at)
            + ',"data":'
            + nested(data)
            + ',"package_version":'
            + ("null" if package_version is None else int.__repr__(package_version))
            + ',"request_id":'
            + enc(request_id)
            + ',"seq":'
            + int.__repr__(seq)
            + ',"target_id":'
            + enc(target_id)
            + ',"target_type":'
            + enc(target_type)
            + ',"token_label":'
            + enc(token_label)
            + "}"
        )
        return sha256((prev_hash + "\n" + content).encode()).hexdigest()

    return hash_row


# The order of a stored row's columns that `row_hasher` and the verifier read.
ROW_COLUMNS = (*HASHED_FIELDS, "prev_hash", "hash")


def row_fields(row) -> dict:
    """Return the hashed fields of a row in `ROW_COLUMNS` order as `canonical_content` takes."""
    fields = dict(zip(HASHED_FIELDS, row[:15], strict=True))
    for name in ("before", "after", "data"):
        if isinstance(fields[name], str):
            fields[name] = json.loads(fields[name])
    return fields
