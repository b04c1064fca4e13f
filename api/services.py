"""Idempotency-Key records: claim a key, keep its answer, replay it, forget it."""

import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from api.models import IdempotencyRecord
from config.errors import ApplicationError, InvalidInput

IDEMPOTENCY_TTL = timedelta(hours=24)
MAX_IDEMPOTENCY_KEY_LENGTH = 255
# Visible ASCII only: a key is compared byte for byte and shown in the admin.
IDEMPOTENCY_KEY_PATTERN = f"^[!-~]{{1,{MAX_IDEMPOTENCY_KEY_LENGTH}}}$"
_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


class IdempotencyConflict(ApplicationError):
    """The key was used before with another request."""

    status_code = 422
    default_code = "idempotency_key_reused"


class IdempotencyInProgress(ApplicationError):
    status_code = 409
    default_code = "idempotency_in_progress"


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def idempotency_claim(
    *, user, principal: str, key: str, request_hash: str
) -> tuple[IdempotencyRecord, bool]:
    """Claim the key for a new request, or return the earlier answer to replay.

    Return ``(record, replay)``: ``replay`` is true when the record holds the
    answer to an identical earlier request. Raise IdempotencyConflict when the
    key was used with another request, IdempotencyInProgress while the first
    request is still running. A claim left without an answer for longer than
    IDEMPOTENCY_ABANDONED_SECONDS belongs to a request whose process was killed
    (its change may or may not have committed): this request takes the claim
    over and runs again, and the service's own refusal answers a change made
    twice. A request that was only slow keeps no answer once its claim is taken
    over (idempotency_store).
    """
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput(
            "The Idempotency-Key header is invalid.",
            code="invalid_idempotency_key",
            fields={
                "Idempotency-Key": [
                    f"1 to {MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters, no spaces."
                ]
            },
        )
    for _ in range(2):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    user=user, principal=principal, key=key, request_hash=request_hash
                )
            return record, False
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
        if record is None:
            continue
        if record.created_at < timezone.now() - IDEMPOTENCY_TTL:
            record.delete()
            continue
        if not hmac.compare_digest(record.request_hash, request_hash):
            raise IdempotencyConflict(
                "This Idempotency-Key was already used with a different request.",
                fields={"Idempotency-Key": ["Use a new key for a new request."]},
            )
        if record.status_code is None:
            if _claim_take_over(record):
                return record, False
            raise IdempotencyInProgress("The first request with this key is still running.")
        return record, True
    raise IdempotencyInProgress("The first request with this key is still running.")


def _claim_take_over(record: IdempotencyRecord) -> bool:
    """Claim anew a record whose request was abandoned; False while it may still be running.

    The update re-checks the age under the row's lock, so of two retries that
    found the same abandoned claim, only the first takes it over.
    """
    now = timezone.now()
    abandoned_after = timedelta(seconds=settings.COUNTERSIGN["IDEMPOTENCY_ABANDONED_SECONDS"])
    taken = IdempotencyRecord.objects.filter(
        pk=record.pk, status_code__isnull=True, created_at__lt=now - abandoned_after
    ).update(created_at=now)
    if taken:
        record.created_at = now
    return bool(taken)


def idempotency_store(*, record: IdempotencyRecord, status_code: int, body) -> bool:
    """Keep the answer so that a retry with the same key gets it again; False if superseded.

    A request that outlived IDEMPOTENCY_ABANDONED_SECONDS may have had its claim taken over
    by a retry, which now holds the key: the update matches only the claim this request
    holds (its `created_at`, still unanswered), so a superseded request keeps nothing and
    the key keeps the answer its current holder gives. The superseded request still
    answers its own client.
    """
    kept = _own_claim(record).update(
        status_code=status_code, response_body=json.dumps(body, cls=DjangoJSONEncoder)
    )
    return bool(kept)


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget a claim whose request failed on the server, so a retry runs again.

    Only the claim this request holds: one a retry took over stays with the retry.
    """
    _own_claim(record).delete()


def _own_claim(record: IdempotencyRecord):
    """Return the record as long as the request holding `record` still holds its claim."""
    return IdempotencyRecord.objects.filter(
        pk=record.pk, status_code__isnull=True, created_at=record.created_at
    )


def idempotency_prune(*, now: datetime | None = None) -> int:
    """Delete the answers older than IDEMPOTENCY_TTL, which are never replayed; return how many.

    Meant for a periodic job; a stale record is also dropped when its key is reused.
    The records are the API's delivery bookkeeping, not what reviews or the trail read,
    so a prune is not an audit event (unlike the usage days' prune).
    """
    cutoff = (now or timezone.now()) - IDEMPOTENCY_TTL
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
