"""Append events to the audit trail."""

import json
from datetime import date, datetime

from django.db import connection, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.chain import CHAIN_LOCK_KEY, GENESIS_HASH, content_pieces, event_hash, format_time
from audit.context import request_id_var
from audit.models import AuditEvent


def lock_chain() -> None:
    """Hold the chain's head still until the transaction ends.

    On PostgreSQL this takes the appenders' advisory lock: under READ COMMITTED
    a statement that starts after the lock is granted sees the last appender's
    committed row. SQLite serializes writers on its own database lock.
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
    """Append one event to the chain, inside the caller's transaction.

    The actor's `confirm` runs first: an actor that may no longer act (a token revoked
    while its request ran) is refused, and the caller's transaction rolls back.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of its change.")
    if actor.confirm is not None:
        actor.confirm()
    return _append(
        _event_fields(actor, action, target, agent_slug, package_version, before, after, data)
    )


def _append(fields: dict) -> AuditEvent:
    """Append the event of these fields to the chain, inside the transaction under way."""
    if connection.vendor == "postgresql":
        return _append_in_database(fields)
    # SQLite serializes writers on its database lock: no lock of the chain's own.
    head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    now = timezone.now()
    digest = event_hash(prev_hash, {**fields, "seq": seq, "created_at": format_time(now)})
    return AuditEvent.objects.create(
        seq=seq, created_at=now, prev_hash=prev_hash, hash=digest, **fields
    )


def audit_prune_record(
    *, actor: Actor, action: str, deleted: dict, older_than: date, days_kept: int
) -> None:
    """Record what a housekeeping job deleted: how many of each kind (`deleted`), from
    before when (a day, or a time to the second) and how many days are kept."""
    since = (
        older_than.isoformat(timespec="seconds")
        if isinstance(older_than, datetime)
        else older_than.isoformat()
    )
    audit_record(
        actor=actor, action=action, data={**deleted, "older_than": since, "days_kept": days_kept}
    )


def audit_record_alone(
    *,
    actor: Actor,
    action: str,
    agent_slug: str = "",
    package_version: int | None = None,
    data: dict | None = None,
) -> None:
    """Append an event that goes with no change of state (a gate decision), on its own.

    On PostgreSQL, outside a transaction, the appender function is one statement
    and so its own transaction: lock, head, insert and commit together, with no
    round trips for a BEGIN and a COMMIT. Anywhere else it is appended in a
    transaction of its own. Nothing is returned: the gate answers from its
    decision and reads nothing of the stored event, so none is built.

    The actor's `confirm` does not run: the event records the answer to a request
    its token authenticated and changes no state, which is what a revocation
    committed meanwhile would forbid.
    """
    fields = _event_fields(actor, action, None, agent_slug, package_version, None, None, data)
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        _append_row(fields, APPEND_RETURNING_SEQ)
        return
    with transaction.atomic():
        _append(fields)


def _event_fields(actor, action, target, agent_slug, package_version, before, after, data):
    return {
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


def _append_in_database(fields: dict) -> AuditEvent:
    """Append through the audit_append function and return the stored event."""
    pk, seq, created_at, prev_hash, digest = _append_row(fields, APPEND_RETURNING_ALL)
    row = {"id": pk, "seq": seq, "created_at": created_at, "prev_hash": prev_hash, "hash": digest}
    row.update(fields)
    names = [field.attname for field in AuditEvent._meta.concrete_fields]
    return AuditEvent.from_db(connection.alias, names, [row[name] for name in names])


# The appender's call, returning the stored row (out_id, out_seq, out_created_at,
# out_prev, out_hash), or only its number where nothing else is read.
_APPEND_CALL = (
    "audit_append(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
    "%s::jsonb, %s::jsonb, %s::jsonb, %s, %s)"
)
APPEND_RETURNING_ALL = "SELECT * FROM " + _APPEND_CALL  # noqa: S608 - constants only
APPEND_RETURNING_SEQ = "SELECT out_seq FROM " + _APPEND_CALL  # noqa: S608 - constants only


def _append_row(fields: dict, sql: str) -> tuple:
    """Append through the audit_append function: lock, number, hash and insert in one trip.

    `sql` is one of the APPEND_RETURNING statements; returns its row. The event
    time is the application's clock, as on the Python path.
    """
    head, mid, tail = content_pieces(fields)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                head,
                mid,
                tail,
                *(fields[name] for name in APPEND_ARGUMENTS),
                json.dumps(fields["before"]),
                json.dumps(fields["after"]),
                json.dumps(fields["data"]),
                fields["request_id"],
                timezone.now(),
            ],
        )
        return cursor.fetchone()


# The audit_append arguments after the content pieces and before the JSON columns.
APPEND_ARGUMENTS = (
    "actor_type",
    "actor_id",
    "actor_label",
    "token_label",
    "action",
    "target_type",
    "target_id",
    "agent_slug",
    "package_version",
)


def _jsonable(value: dict | None) -> dict:
    """Return the value as it reads back from a JSON column, so its hash is stable.

    PostgreSQL keeps JSON numbers as numerics and prints a whole float such as
    1e16 without its exponent, so whole floats become integers here already.
    """
    if not value:
        return {}
    return json.loads(json.dumps(value, default=str), parse_float=_number)


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value
