"""Signed evidence bundles: a ZIP of files, a MANIFEST of their SHA-256 sums, its signature.

The generic half of a bundle: what goes in is the caller's (approvals.evidence
gathers a package's records); audit adds the events, the chain segment that links
them, the checkpoints that anchor the segment, the MANIFEST, its Ed25519 signature
and the public key. `tools/verify-evidence` checks a bundle offline.

Layout of a bundle:

- `bundle.json`: format, what the bundle is about, the segment's range, the key's
  fingerprint;
- the caller's files (e.g. `package.json`, `signoffs.json`, `summary.html`);
- `events.jsonl`: full events, in their hashed form (the fields `audit.chain`
  hashes, `created_at` as hashed), with `prev_hash` and `hash`;
- `chain.jsonl`: `{"seq", "prev_hash", "hash"}` for every event of the segment, so
  the links hold without disclosing other agents' events;
- `checkpoints.json`: the signed checkpoints inside the segment, the last at its end;
- `public_key.pem`; `MANIFEST` (`<sha256>  <name>` per file, sorted); `MANIFEST.sig`
  (base64 Ed25519 signature of the MANIFEST bytes).
"""

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.utils import timezone

from audit import signing
from audit.actors import Actor
from audit.chain import STORED_COLUMNS, format_time
from audit.checkpoints import checkpoint_create, checkpoint_export
from audit.models import AuditEvent, Checkpoint

BUNDLE_FORMAT = "countersign.evidence/1"
MANIFEST = "MANIFEST"
SIGNATURE = "MANIFEST.sig"
PUBLIC_KEY = "public_key.pem"
EVENTS = "events.jsonl"
CHAIN = "chain.jsonl"
CHECKPOINTS = "checkpoints.json"
DESCRIPTOR = "bundle.json"
BATCH = 5000


def dumps(value) -> bytes:
    """Return stable, readable JSON bytes for a bundle file."""
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _jsonl(rows: Iterable[dict]) -> Iterator[bytes]:
    for row in rows:
        yield (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


@dataclass(frozen=True)
class Segment:
    """A stretch of the chain: events first_seq..last_seq, linked from prev_hash."""

    first_seq: int
    last_seq: int
    prev_hash: str


def segment_covering(first_seq: int, last_seq: int, *, actor: Actor) -> tuple[Segment, list]:
    """Return the segment from first_seq to a signed checkpoint at or after last_seq.

    Only checkpoints of the current key count: the bundle is signed with it and its
    reader checks every checkpoint with that one key. When none covers last_seq yet,
    sign the head now. Return the segment and the exported checkpoints inside it.
    """
    by_current_key = Checkpoint.objects.filter(public_key_fingerprint=signing.fingerprint())
    anchor = by_current_key.filter(seq__gte=last_seq).order_by("seq").first()
    if anchor is None:
        anchor = checkpoint_create(actor=actor)
    end = max(last_seq, anchor.seq)
    prev_hash = AuditEvent.objects.filter(seq=first_seq).values_list("prev_hash", flat=True).get()
    checkpoints = [
        checkpoint_export(cp)
        for cp in by_current_key.filter(seq__gte=first_seq, seq__lte=end).order_by("seq", "pk")
    ]
    return Segment(first_seq, end, prev_hash), checkpoints


def chain_links(segment: Segment) -> Iterator[dict]:
    """Yield {seq, prev_hash, hash} of every event in the segment, in batches."""
    events = AuditEvent.objects.filter(seq__gte=segment.first_seq, seq__lte=segment.last_seq)
    for seq, prev_hash, digest in (
        events.order_by("seq").values_list("seq", "prev_hash", "hash").iterator(chunk_size=BATCH)
    ):
        yield {"seq": seq, "prev_hash": prev_hash, "hash": digest}


def hashed_events(events) -> Iterator[dict]:
    """Yield events (a queryset) in their hashed form with their links, in seq order."""
    for row in events.order_by("seq").values_list(*STORED_COLUMNS).iterator(chunk_size=BATCH):
        event = dict(zip(STORED_COLUMNS, row, strict=True))
        event["created_at"] = format_time(event["created_at"])
        yield event


def bundle_write(
    files: Iterable[tuple[str, bytes | Iterable[bytes]]],
    *,
    subject: dict,
    events,
    segment: Segment,
    checkpoints: list,
) -> tempfile.SpooledTemporaryFile:
    """Write a signed bundle to a temporary file and return it, rewound.

    `files` are (name, content) pairs, content as bytes or an iterable of chunks;
    `events` is a queryset of the events to include in full.
    """
    out = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    sums: dict[str, str] = {}
    fingerprint = signing.fingerprint()
    descriptor = {
        "format": BUNDLE_FORMAT,
        "generated_at": format_time(timezone.now()),
        "subject": subject,
        "segment": {
            "first_seq": segment.first_seq,
            "last_seq": segment.last_seq,
            "prev_hash": segment.prev_hash,
        },
        "public_key_fingerprint": fingerprint,
        "hash_algorithm": "sha256",
        "signature_algorithm": "ed25519",
    }
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, content) -> None:
            if name in sums or name in (MANIFEST, SIGNATURE):
                raise ValueError(f"Duplicate bundle file {name}.")
            digest = hashlib.sha256()
            with archive.open(name, "w", force_zip64=True) as entry:
                for chunk in [content] if isinstance(content, bytes) else content:
                    digest.update(chunk)
                    entry.write(chunk)
            sums[name] = digest.hexdigest()

        add(DESCRIPTOR, dumps(descriptor))
        for name, content in files:
            add(name, content)
        add(EVENTS, _jsonl(hashed_events(events)))
        add(CHAIN, _jsonl(chain_links(segment)))
        add(CHECKPOINTS, dumps(checkpoints))
        add(PUBLIC_KEY, signing.public_key_pem().encode())
        manifest = "".join(f"{sums[name]}  {name}\n" for name in sorted(sums)).encode()
        archive.writestr(MANIFEST, manifest)
        archive.writestr(SIGNATURE, signing.sign(manifest) + "\n")
    out.seek(0)
    return out
