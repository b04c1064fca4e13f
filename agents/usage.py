"""Usage by day: what an agent used, was denied, and was decided on, per scope entry.

Observations (``agents.observations``) keep one running total per use; the
days kept here answer "used in the last 30 / 90 days", "denied" and "does the
agent's enforcement point ask". Both are written in the same transaction by
``observations_record``, from the observations API and from the runtime usage
flush. Days older than USAGE_DAYS_KEPT are pruned by a daily job, which records
what it deleted on the audit trail.
"""

# The SQL below interpolates only quoted identifiers; values go as parameters.
# ruff: noqa: S608

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import connection, transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

from agents.models import Agent, Observation, UsageDay
from agents.vocabulary import Access, ScopeKind, ranks
from audit.actors import Actor
from audit.services import audit_prune_record

# Days kept: the longest window shown (90) and some slack for late reports.
USAGE_DAYS_KEPT = 100
# The windows the pages and the API show, in days, the day of the question included.
WINDOWS = (30, 90)
# "Used" for a narrowing: in the longest window.
NARROW_WINDOW = WINDOWS[-1]
UPSERT_CHUNK = 2_000
_ACCESS_RANK = ranks(Access)


def _fold(items: list[dict], decisions: bool) -> list[tuple]:
    """Fold validated observation items into (kind, identifier, access, day, uses, denies,
    decisions) rows, one per use and day."""
    rows: dict[tuple, list[int]] = {}
    for item in items:
        key = (item["kind"], item["identifier"], item["access"], item["seen_at"].date())
        counts = rows.setdefault(key, [0, 0, 0])
        denies = item.get("denies", 0) if decisions else 0
        counts[0] += item["count"] - denies
        counts[1] += denies
        counts[2] += item["count"] if decisions else 0
    # In the order of their keys, as `agents.observations` upserts its rows: two writers
    # of the same days lock them in the same order.
    return [(*key, *counts) for key, counts in sorted(rows.items())]


def usage_days_add(*, agent_id: int, items: list[dict], decisions: bool) -> None:
    """Add validated observation items to the agent's days, one statement per chunk.

    Called by ``observations_record`` inside its transaction; nothing else writes days.
    """
    rows = _fold(items, decisions)
    table = connection.ops.quote_name(UsageDay._meta.db_table)
    for start in range(0, len(rows), UPSERT_CHUNK):
        chunk = rows[start : start + UPSERT_CHUNK]
        params: list = []
        for row in chunk:
            params += [agent_id, *row]
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
        sql = (
            f"INSERT INTO {table} "
            "(agent_id, kind, identifier, access, day, uses, denies, decisions) "
            f"VALUES {values} "
            "ON CONFLICT (agent_id, kind, identifier, access, day) DO UPDATE SET "
            f"uses = {table}.uses + EXCLUDED.uses, "
            f"denies = {table}.denies + EXCLUDED.denies, "
            f"decisions = {table}.decisions + EXCLUDED.decisions"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


# The event of a prune that deleted days.
USAGE_DAYS_PRUNED = "usage.days_pruned"


@transaction.atomic
def usage_days_prune(*, actor: Actor, today: date | None = None) -> int:
    """Delete the days older than USAGE_DAYS_KEPT; return how many rows went.

    The days are what reviews read usage from, so a prune that deletes some is an
    audit event (how many, the first day kept, the days kept); one that deletes
    none records nothing.
    """
    today = today or timezone.now().date()
    older_than = today - timedelta(days=USAGE_DAYS_KEPT)
    deleted, _ = UsageDay.objects.filter(day__lt=older_than).delete()
    if deleted:
        audit_prune_record(
            actor=actor,
            action=USAGE_DAYS_PRUNED,
            deleted={"deleted": deleted},
            older_than=older_than,
            days_kept=USAGE_DAYS_KEPT,
        )
    return deleted


def window_start(days: int, today: date | None = None) -> date:
    """Return the first day of the last `days` days, today included."""
    return (today or timezone.now().date()) - timedelta(days=days - 1)


def enforcement_seen(agent: Agent, days: int, today: date | None = None) -> bool:
    """Tell whether the decision point answered the agent's enforcement point in `days` days."""
    return UsageDay.objects.filter(
        agent=agent, day__gte=window_start(days, today), decisions__gt=0
    ).exists()


@dataclass
class Use:
    """Usage of one scope entry (or one use outside the scope) over the windows."""

    kind: str
    identifier: str
    access: str
    uses: dict[int, int] = field(default_factory=lambda: dict.fromkeys(WINDOWS, 0))
    denies: dict[int, int] = field(default_factory=lambda: dict.fromkeys(WINDOWS, 0))
    last_used: date | None = None
    # The highest access it was used at in the longest window; None: not used there.
    highest_used: str | None = None

    @property
    def never_used(self) -> bool:
        return self.last_used is None

    @property
    def used_recently(self) -> bool:
        """Tell whether it was used in the longest window (what a narrowing keeps)."""
        return self.uses[NARROW_WINDOW] > 0

    def add(self, other: "Use") -> None:
        for days in WINDOWS:
            self.uses[days] += other.uses[days]
            self.denies[days] += other.denies[days]
        if other.last_used and (self.last_used is None or other.last_used > self.last_used):
            self.last_used = other.last_used
        if other.highest_used and (
            self.highest_used is None
            or _ACCESS_RANK[other.highest_used] > _ACCESS_RANK[self.highest_used]
        ):
            self.highest_used = other.highest_used

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "id": self.identifier,
            "access": self.access,
            "last_used": self.last_used,
            **{f"uses_{days}d": self.uses[days] for days in WINDOWS},
            **{f"denies_{days}d": self.denies[days] for days in WINDOWS},
            "never_used": self.never_used,
            f"highest_access_{NARROW_WINDOW}d": self.highest_used,
        }


@dataclass
class Usage:
    """An agent's usage per scope entry, and what it used or asked for beyond them."""

    entries: list[Use]
    outside: list[Use]
    today: date

    @property
    def unused(self) -> list[Use]:
        """Return the entries not used in the longest window (what a narrowing removes)."""
        return [use for use in self.entries if not use.used_recently]


def _covers(entry: tuple[str, str, str], use: Use) -> bool:
    """Tell whether a scope entry allows a use: same kind and identifier, no higher access."""
    kind, identifier, access = entry
    return (
        kind == use.kind
        and identifier == use.identifier
        and _ACCESS_RANK.get(use.access, len(_ACCESS_RANK)) <= _ACCESS_RANK.get(access, -1)
    )


def usage_of(agent: Agent, entries: list[tuple[str, str, str]], today: date | None = None) -> Usage:
    """Return the agent's usage per (kind, identifier, access) scope entry, in their order.

    An entry counts every use it allows: the same kind and identifier at its
    access level or a lower one (as the gate's diff orders them). A use no entry
    allows is listed as outside the scope. Last used is the newest day with a
    use; a use older than the days kept falls back to its observation's last
    sighting. At most two queries, whatever the number of entries, days or uses.
    """
    today = today or timezone.now().date()
    starts = {days: window_start(days, today) for days in WINDOWS}
    sums = {}
    for days, start in starts.items():
        sums[f"uses_{days}"] = Sum("uses", filter=Q(day__gte=start), default=0)
        sums[f"denies_{days}"] = Sum("denies", filter=Q(day__gte=start), default=0)
    rows = (
        UsageDay.objects.filter(agent=agent, kind__in=ScopeKind.values)
        .values("kind", "identifier", "access")
        .annotate(last_used=Max("day", filter=Q(uses__gt=0)), **sums)
        .order_by("kind", "identifier", "access")
    )
    uses = {}
    for row in rows:
        use = Use(row["kind"], row["identifier"], row["access"], last_used=row["last_used"])
        for days in WINDOWS:
            use.uses[days] = row[f"uses_{days}"]
            use.denies[days] = row[f"denies_{days}"]
        if use.used_recently:
            use.highest_used = use.access
        uses[(use.kind, use.identifier, use.access)] = use
    # Only an entry's own uses fall back to their sighting (a use outside the scope is
    # listed for its days alone): an agent seen using thousands of endpoints reads a few rows.
    seen = Observation.objects.filter(
        agent=agent,
        kind__in=ScopeKind.values,
        identifier__in={identifier for _, identifier, _ in entries},
    ).values_list("kind", "identifier", "access", "last_seen")
    for kind, identifier, access, last_seen in seen:
        use = uses.setdefault((kind, identifier, access), Use(kind, identifier, access))
        if use.last_used is None and not any(use.denies.values()):
            use.last_used = last_seen.date()
    result = Usage(entries=[], outside=[], today=today)
    covered = set()
    for entry in entries:
        total = Use(*entry)
        for key, use in uses.items():
            if _covers(entry, use):
                total.add(use)
                covered.add(key)
        result.entries.append(total)
    result.outside = [
        use
        for key, use in uses.items()
        if key not in covered and (use.uses[NARROW_WINDOW] or use.denies[NARROW_WINDOW])
    ]
    return result
