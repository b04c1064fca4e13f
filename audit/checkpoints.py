"""Signed checkpoints: the chain head at a moment, signed so it can be trusted outside the database.

A checkpoint catches what the chain alone cannot: a chain re-hashed from an edited
event onwards, or a tail cut off. Keep exported checkpoints outside the database
(`manage.py audit checkpoint --export`) so deleting them is no way out either.
"""

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import BigIntegerField
from django.utils import timezone

from audit import signing
from audit.actors import Actor
from audit.chain import format_time
from audit.models import AuditEvent, Checkpoint
from audit.services import lock_chain

logger = logging.getLogger(__name__)

CHECKPOINT_TYPE = "countersign.audit.checkpoint"

# Why a checkpoint breaks a verification (audit.verify names the other reasons).
CHECKPOINT_INVALID = "checkpoint_invalid"
CHECKPOINT_UNTRUSTED = "checkpoint_untrusted"

# The largest seq the chain's column holds.
MAX_SEQ = BigIntegerField.MAX_BIGINT


def checkpoint_message(*, seq: int, head_hash: str, created_at: str, fingerprint: str) -> bytes:
    """Return the exact bytes a checkpoint's signature covers."""
    return json.dumps(
        {
            "created_at": created_at,
            "head_hash": head_hash,
            "public_key_fingerprint": fingerprint,
            "seq": seq,
            "type": CHECKPOINT_TYPE,
        },
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


@transaction.atomic
def checkpoint_create(*, actor: Actor) -> Checkpoint | None:
    """Sign the current head of the chain; return the checkpoint, or None for an empty chain.

    Idempotent: when the head already has a checkpoint signed with the current key,
    return that one. A checkpoint of the head by another key (before a rotation) does
    not do: whoever trusts only the current key, as an evidence bundle's reader does,
    could not check it. The checkpoint is not itself an audit event, since writing
    one would move the head it signs.
    """
    lock_chain()
    head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    if head is None:
        return None
    seq, head_hash = head
    print_ = signing.fingerprint()
    existing = (
        Checkpoint.objects.filter(seq=seq, head_hash=head_hash, public_key_fingerprint=print_)
        .order_by("-pk")
        .first()
    )
    if existing is not None:
        return existing
    now = timezone.now()
    message = checkpoint_message(
        seq=seq, head_hash=head_hash, created_at=format_time(now), fingerprint=print_
    )
    checkpoint = Checkpoint.objects.create(
        seq=seq,
        head_hash=head_hash,
        created_at=now,
        signature=signing.sign(message),
        public_key_fingerprint=print_,
    )
    logger.info("Audit checkpoint at seq %s by %s.", seq, actor.label)
    return checkpoint


def checkpoint_export(checkpoint: Checkpoint) -> dict:
    """Return a checkpoint as a self-contained JSON document, public key included."""
    return {
        "type": CHECKPOINT_TYPE,
        "seq": checkpoint.seq,
        "head_hash": checkpoint.head_hash,
        "created_at": format_time(checkpoint.created_at),
        "public_key_fingerprint": checkpoint.public_key_fingerprint,
        "signature": checkpoint.signature,
        "public_key": signing.public_key_pem()
        if checkpoint.public_key_fingerprint == signing.fingerprint()
        else "",
    }


def checkpoint_signature_valid(document: dict, key=None) -> bool:
    """Check an exported checkpoint's signature with the given (default: the configured) key."""
    key = key or signing.public_key()
    if document.get("public_key_fingerprint") != signing.fingerprint(key):
        return False
    seq = checkpoint_seq(document.get("seq"))
    if seq is None:
        return False
    try:
        message = checkpoint_message(
            seq=seq,
            head_hash=str(document["head_hash"]),
            created_at=str(document["created_at"]),
            fingerprint=str(document["public_key_fingerprint"]),
        )
    except (KeyError, TypeError, ValueError):
        return False
    return signing.signature_valid(message, str(document.get("signature", "")), key)


@dataclass
class Anchors:
    """The checkpoints a verification relies on, and what kept others out."""

    trusted: list[tuple[int, str]] = field(default_factory=list)  # (seq, head_hash)
    failure: tuple[int | None, str, str] | None = None  # (seq, reason, detail), the first
    warnings: list[str] = field(default_factory=list)
    # Per trusted key: fingerprint, source (signing.CURRENT, RETIRED or GIVEN) and how
    # many checkpoints' signatures it checked.
    signing_keys: list[dict] = field(default_factory=list)

    def fail(self, seq: int | None, reason: str, detail: str) -> None:
        if self.failure is None:
            self.failure = (seq, reason, detail)
        else:
            self.warnings.append(detail)


def checkpoint_anchors(stored: Iterable[dict], given: Iterable[dict], keys: dict) -> Anchors:
    """Check exported checkpoints' signatures with `keys` (`signing.trusted_keys()`).

    A checkpoint signed by a trusted key but with a bad signature is a failure. One
    signed by a key not trusted cannot be checked: when it was `given` (exported, kept
    outside, handed over to be checked) that is a failure too, since passing would say
    it agreed with the chain; when it is `stored` it is a warning, since the chain is
    no less whole for it and any insider could add one (docs/operations.md).
    """
    anchors = Anchors()
    used: Counter = Counter()
    for was_given, documents in ((False, stored), (True, given)):
        for document in documents:
            seq, print_ = document.get("seq"), document.get("public_key_fingerprint")
            key = keys.get(print_) if isinstance(print_, str) else None
            if key is None:
                untrusted = (
                    f"The checkpoint at {seq} is signed by key {print_ or '(none named)'}, "
                    "which is neither the signing key nor a retired one trusted"
                )
                if was_given:
                    anchors.fail(
                        None,
                        CHECKPOINT_UNTRUSTED,
                        f"{untrusted}, so it cannot be checked: trust its public key "
                        "(RETIRED_SIGNING_PUBLIC_KEYS, or audit verify --trusted-key).",
                    )
                else:
                    anchors.warnings.append(
                        f"{untrusted}; not used. If it is a key you retired, add its public "
                        "key to RETIRED_SIGNING_PUBLIC_KEYS."
                    )
                continue
            if not checkpoint_signature_valid(document, key.key):
                anchors.fail(
                    checkpoint_seq(seq),
                    CHECKPOINT_INVALID,
                    f"The checkpoint at {seq} has an invalid signature (key {print_}).",
                )
                continue
            used[print_] += 1
            anchors.trusted.append((int(seq), str(document["head_hash"])))
    anchors.signing_keys = [
        {"fingerprint": print_, "source": key.source, "checkpoints": used[print_]}
        for print_, key in keys.items()
    ]
    return anchors


def checkpoint_seq(value) -> int | None:
    """Return a checkpoint's seq when it is one the chain can hold, else None.

    That is a JSON whole number from 1 to MAX_SEQ: JSON reads 1e400 as infinity
    and 1.5 as a fraction, neither of which numbers an event.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_SEQ else None
