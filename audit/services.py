"""Append events to the audit trail."""

import json

from django.db import connection, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.chain import GENESIS_HASH, event_hash, format_time
from audit.context import request_id_var
from audit.models import AuditEvent

# Key of the PostgreSQL advisory lock that serializes appends to the chain.
CHAIN_LOCK_KEY = 0x0C0A7E51


def lock_chain() -> None:
    """Serialize appenders until the transaction ends.

    Under READ COMMITTED the head is read by a statement that starts after the
    lock is granted, so it always sees the previous appender's committed row.
    SQLite serializes writers on its own database lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def audit_record(
    *,
    actor: Actor,
    action: str,
    target=None,
    agent_slug: str = "",
    package_version: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
    data: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of its change.")
    with transaction.atomic():
        lock_chain()
        head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
        now = timezone.now()
        fields = {
            "seq": seq,
            "created_at": format_time(now),
            "actor_type": actor.type,
            "actor_id": actor.id,
            "actor_label": actor.label,
            "token_label": actor.token_label,
            "action": action,
            "target_type": target._meta.label_lower if target is not None else "",
            "target_id": str(target.pk) if target is not None else "",
            "agent_slug": agent_slug,
            "package_version": package_version,
            "before": _jsonable(before),
            "after": _jsonable(after),
            "data": _jsonable(data),
            "request_id": request_id_var.get(),
        }
        digest = event_hash(prev_hash, fields)
        return AuditEvent.objects.create(
            prev_hash=prev_hash, hash=digest, **dict(fields, created_at=now)
        )


def _jsonable(value: dict | None) -> dict:
    """Return the value as it reads back from a JSON column, so its hash is stable."""
    return json.loads(json.dumps(value or {}, default=str))
