"""Record what an agent's runtime reported it used, aggregated per kind, identifier and access."""

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from agents.models import Agent, Observation, ObservationKind
from agents.permissions import Check, can_report_observations
from agents.usage import usage_days_add
from agents.vocabulary import Access
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, NotPermitted
from config.identifiers import identifier_message
from config.times import time_in_utc
from tokens.selectors import token_binds

# A batch larger than this is refused whole: the runtime should send more often.
MAX_ITEMS = 10_000
# Rows per INSERT: 8 parameters each stays under the databases' parameter limits.
UPSERT_CHUNK = 2_000
MAX_COUNT = 1_000_000_000
MAX_IDENTIFIER_LENGTH = 2048
MAX_SOURCE_LENGTH = 200
# Clocks drift; a report a little ahead of the server is accepted (as the server's now),
# further is a bug.
MAX_CLOCK_SKEW = timedelta(minutes=5)
ACCESS_LEVELS = tuple(Access.values)
# Kinds CI reports as a digest; they carry no access level.
DIGEST_KINDS = (ObservationKind.MODEL, ObservationKind.PROMPT)
ITEM_FIELDS = {"kind", "identifier", "access", "count", "seen_at", "source"}
# The decision point's answers also say how many of `count` it denied.
DECISION_FIELDS = ITEM_FIELDS | {"denies"}


def _validate_item(item, now: datetime, decisions: bool) -> tuple[dict, dict[str, list[str]]]:
    """Return the cleaned item and its errors keyed by field name."""
    errors: dict[str, list[str]] = {}
    if not isinstance(item, dict):
        return {}, {"": ["Must be an object."]}
    unknown = sorted(set(item) - (DECISION_FIELDS if decisions else ITEM_FIELDS))
    if unknown:
        errors["non_field_errors"] = [f"Unknown fields: {', '.join(map(str, unknown))}."]

    kind = item.get("kind")
    if kind not in ObservationKind.values:
        errors["kind"] = [f"Must be one of: {', '.join(ObservationKind.values)}."]

    identifier = item.get("identifier")
    if not isinstance(identifier, str) or not identifier.strip():
        errors["identifier"] = ["Must be a non-empty string."]
    elif len(identifier) > MAX_IDENTIFIER_LENGTH:
        errors["identifier"] = [f"At most {MAX_IDENTIFIER_LENGTH} characters."]
    elif identifier_message(identifier):
        errors["identifier"] = [identifier_message(identifier)]
    else:
        identifier = identifier.strip()

    access = item.get("access", "")
    if kind in DIGEST_KINDS:
        if access not in ("", None):
            errors["access"] = [f"A {kind} observation carries no access level."]
        access = ""
    elif access not in ACCESS_LEVELS:
        errors["access"] = [f"Must be one of: {', '.join(ACCESS_LEVELS)}."]

    count = item.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        errors["count"] = [f"Must be an integer from 1 to {MAX_COUNT}."]

    denies = item.get("denies", 0)
    if isinstance(denies, bool) or not isinstance(denies, int) or denies < 0:
        errors["denies"] = ["Must be a non-negative integer."]
    elif isinstance(count, int) and denies > count:
        errors["denies"] = ["Must not exceed count."]

    seen_at = item.get("seen_at")
    if seen_at is None:
        seen_at = now
    else:
        try:
            seen_at = time_in_utc(seen_at, naive_is_utc=False)
        except ValueError as error:
            errors["seen_at"] = [str(error)]
        else:
            if seen_at > now + MAX_CLOCK_SKEW:
                errors["seen_at"] = ["Must not be in the future."]
            # A clock a little ahead is read as the report's arrival: no use happens later,
            # and a time to come would put a sighting, its day and its findings ahead.
            seen_at = min(seen_at, now)

    source = item.get("source", "")
    if source is None:
        source = ""
    if not isinstance(source, str) or len(source) > MAX_SOURCE_LENGTH:
        errors["source"] = [f"Must be a string of at most {MAX_SOURCE_LENGTH} characters."]
    elif identifier_message(source):
        errors["source"] = [identifier_message(source)]

    cleaned = {
        "kind": kind,
        "identifier": identifier,
        "access": access,
        "count": count,
        "denies": denies,
        "seen_at": seen_at,
        "source": source,
    }
    return cleaned, errors


def observations_validate(items, *, decisions: bool = False) -> list[dict]:
    """Return the cleaned items, or raise InvalidInput naming every bad field as items[i].field."""
    if not isinstance(items, list) or not items:
        raise InvalidInput("Send a non-empty list of observations.", fields={"items": ["Empty."]})
    if len(items) > MAX_ITEMS:
        raise InvalidInput(
            f"At most {MAX_ITEMS} observations per request.",
            fields={"items": [f"At most {MAX_ITEMS} items."]},
        )
    now = timezone.now()
    cleaned, fields = [], {}
    for index, item in enumerate(items):
        clean, errors = _validate_item(item, now, decisions)
        for name, messages in errors.items():
            fields[f"items[{index}].{name}" if name else f"items[{index}]"] = messages
        cleaned.append(clean)
    if fields:
        raise InvalidInput("Some observations are invalid; none were recorded.", fields=fields)
    return cleaned


def _aggregate(items: list[dict]) -> list[dict]:
    """Fold the items of one batch into one row per use, in the order of the uses."""
    rows: dict[tuple, dict] = {}
    for item in items:
        key = (item["kind"], item["identifier"], item["access"])
        row = rows.get(key)
        if row is None:
            rows[key] = {
                "count": item["count"],
                "first_seen": item["seen_at"],
                "last_seen": item["seen_at"],
                "source": item["source"],
            }
            continue
        row["count"] += item["count"]
        row["first_seen"] = min(row["first_seen"], item["seen_at"])
        if item["seen_at"] >= row["last_seen"]:
            row["last_seen"] = item["seen_at"]
            row["source"] = item["source"] or row["source"]
    # In the order of their keys: every batch locks the rows it upserts in the same order,
    # so two batches of one agent's uses queue for them rather than deadlock.
    return [
        {"kind": k[0], "identifier": k[1], "access": k[2], **v} for k, v in sorted(rows.items())
    ]


def _upsert(agent_id: int, rows: list[dict]) -> None:
    """Insert or add to the aggregated rows, one statement per UPSERT_CHUNK rows."""
    for start in range(0, len(rows), UPSERT_CHUNK):
        _upsert_chunk(agent_id, rows[start : start + UPSERT_CHUNK])


def _upsert_chunk(agent_id: int, rows: list[dict]) -> None:
    table = connection.ops.quote_name(Observation._meta.db_table)
    least, greatest = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    adapt = connection.ops.adapt_datetimefield_value
    values, params = [], []
    for row in rows:
        values.append("(%s, %s, %s, %s, %s, %s, %s, %s)")
        params += [
            agent_id,
            row["kind"],
            row["identifier"],
            row["access"],
            row["count"],
            adapt(row["first_seen"]),
            adapt(row["last_seen"]),
            row["source"],
        ]
    # Only quoted identifiers and placeholders are interpolated; values go as parameters.
    sql = (
        f"INSERT INTO {table} "  # noqa: S608
        "(agent_id, kind, identifier, access, count, first_seen, last_seen, source) "
        f"VALUES {', '.join(values)} "
        "ON CONFLICT (agent_id, kind, identifier, access) DO UPDATE SET "
        f"count = {table}.count + EXCLUDED.count, "
        f"first_seen = {least}({table}.first_seen, EXCLUDED.first_seen), "
        f"last_seen = {greatest}({table}.last_seen, EXCLUDED.last_seen), "
        "source = CASE WHEN EXCLUDED.source <> '' AND EXCLUDED.last_seen >= "
        f"{table}.last_seen THEN EXCLUDED.source ELSE {table}.source END"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def can_report(*, actor: Actor, agent: Agent) -> Check:
    """Return whether the person or token may report the agent's observations, and if not, why.

    The rule is `can_report_observations`'s; the token counts as bound when it is bound to
    this agent.
    """
    token = actor.token
    bound = token is not None and token.bound and token_binds(token, agent.slug)
    return can_report_observations(actor.user, agent, bound_to_agent=bound)


@transaction.atomic
def observations_record(
    *, actor: Actor, agent: Agent, items: list[dict], decisions: bool = False
) -> int:
    """Record a batch of observations of one agent; return how many items were accepted.

    Every item is validated before anything is written, so a batch is stored
    whole or not at all. The queries do not grow with the batch: one upsert
    of the observations, one of their days (``agents.usage``) and one audit
    event (one upsert each per UPSERT_CHUNK distinct uses). Only the agent's
    owners, a token bound to the agent, or the system report them.

    `decisions` marks the items as the decision point's answers: each may say
    how many of its count were denied, and they show that the agent's
    enforcement point asks. Only the system records those.
    """
    if decisions and not actor.is_system:
        raise NotPermitted("Only the decision point records decisions.", code="not_permitted")
    cleaned = observations_validate(items, decisions=decisions)
    rows = _aggregate(cleaned)
    # The agent's row before its uses' rows, as the usage flush takes them: the flush holds
    # several agents' rows, and the audit chain's lock from its first event, while it writes.
    agent = Agent.objects.select_for_update(no_key=True).get(pk=agent.pk)
    if not actor.is_system:
        # Its owners as the last change of them left them: a change of owners holds the
        # agent's row until it commits. The reporter's row stays unlocked, so one service
        # account's reports of several agents do not queue behind each other.
        check = can_report(actor=actor, agent=agent)
        if not check:
            raise NotPermitted(check.message, code=check.code)
    _upsert(agent.pk, rows)
    usage_days_add(agent_id=agent.pk, items=cleaned, decisions=decisions)
    audit_record(
        actor=actor,
        action="observations.recorded",
        target=agent,
        agent_slug=agent.slug,
        data={
            "items": len(cleaned),
            "uses": len(rows),
            "count": sum(row["count"] for row in rows),
            "kinds": sorted({row["kind"] for row in rows}),
            **({"denies": sum(item["denies"] for item in cleaned)} if decisions else {}),
        },
    )
    return len(cleaned)
