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


def format_time(value) -> str:
    """Return the fixed textual form of an event time used inside the hash."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
