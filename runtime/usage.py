"""Usage of runtime decisions: counted in Redis on the hot path, folded into observations by a job.

A decision writes nothing to the database. Each answered evaluation adds one
to a Redis hash per minute (`usage:<minute>`), field: agent, kind, access,
outcome (allow, deny, or claim: denied only for a claim beyond the approved
entry), asker (the token's user, marked when the token is bound to the
agent), identifier.
The flush job (`usage_flush`, every minute) takes each
closed minute by renaming its hash (atomic: a late increment starts a new
hash, flushed next time), adds its counts to the agents' observations and
their days (uses, denies and decisions per day: ``agents.usage``) and
records the renamed hash as flushed, in one transaction, then deletes it.

What a crash can lose, and what it cannot:

- the flush job dying at any point loses nothing and counts nothing twice:
  before its commit the renamed hash is still in Redis and is flushed on the
  next run; after it, the recorded flush tells the next run to delete it only;
- a web process dying loses the counts of the evaluations it was answering
  (they are counted after the decision, in one round trip per request);
- Redis losing its data loses what was not yet flushed: the current and the
  previous minute, plus what its persistence setting allows it to lose;
- counts left unflushed longer than USAGE_TTL (the job stopped for a week)
  expire.

A use that cannot be an observation (an unknown kind or access level, an
identifier with control characters) is not counted. Anyone with the decision
scope may ask about any agent, but what they ask becomes the agent's
observations (and so its usage and drift) only as observations reported
through the API do: from one of its owners, or a token bound to the agent
whose user could still bind it (`agents.permissions.can_report_observations`,
asked by the flush for each asker's user). Other
askers' uses are flushed and dropped, so nobody else can raise findings on an
agent or make its enforcement look proven.
"""

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import Agent, ObservationKind
from agents.observations import MAX_IDENTIFIER_LENGTH, MAX_ITEMS, observations_record
from agents.permissions import can_report_observations
from agents.vocabulary import Access
from approvals.claims import claim_findings_record
from approvals.gate_vocabulary import GateDecision
from audit.actors import Actor
from config.identifiers import identifier_message
from runtime.decision import Decision
from runtime.models import UsageFlush

logger = logging.getLogger(__name__)

PREFIX = "usage:"
FLUSHING = "usage-flushing:"
USAGE_TTL = 7 * 24 * 3600
SOURCE = "authzen"
SEP = "\x1f"  # never in a counted identifier: control characters are not counted
# How an evaluation is counted (`outcome_of`).
ALLOWED, DENIED, CLAIM_DENIED = GateDecision.ALLOW, GateDecision.DENY, "claim"
# An asker is the token's user id, after this mark when the token is bound to the agent
# (`asker_of`).
BOUND = "bound:"
ANONYMOUS = AnonymousUser()
NOT_COUNTED = (
    "Runtime decisions are answered but not counted: REDIS_URL is not set, so no usage, "
    "no drift from denied uses and no proof of enforcement come from the decision point."
)
_KINDS = frozenset(ObservationKind.values) - {ObservationKind.MODEL, ObservationKind.PROMPT}
_ACCESS = frozenset(Access.values)


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def usage_client() -> redis.Redis | None:
    """Return the Redis client usage is counted in, or None when none is configured.

    Without one (REDIS_URL unset, as under `make run` by default) decisions are
    answered but not counted; the process says so once in its log.
    """
    url = settings.COUNTERSIGN.get("USAGE_REDIS_URL")
    if not url:
        not_counted_said()
        return None
    return _client(url)


@lru_cache(maxsize=1)
def not_counted_said() -> None:
    """Log, once per process, that runtime decisions are not counted."""
    logger.warning(NOT_COUNTED)


def countable(kind: str, identifier: str, access: str) -> bool:
    """Tell whether a use can become an observation (and so is counted)."""
    return (
        kind in _KINDS
        and access in _ACCESS
        and len(identifier) <= MAX_IDENTIFIER_LENGTH
        and identifier.strip() == identifier
        and not identifier_message(identifier)
    )


def outcome_of(decision: Decision) -> str:
    """Return how a decision is counted: allowed, denied, or denied for a claim alone."""
    if decision.allowed:
        return ALLOWED
    return CLAIM_DENIED if decision.claims_only else DENIED


def asker_of(token) -> str:
    """Return who a token's uses are counted for: the token's user, marked when the token is
    bound to agents (it reaches only them)."""
    return f"{BOUND}{token.user_id}" if token.bound else str(token.user_id)


def usage_count(uses: list[tuple[str, str, str, str, str, str]], now: float | None = None) -> None:
    """Count (agent slug, kind, identifier, access, outcome, asker) uses in this minute's hash.

    One round trip; a failure is logged and the counts are lost (the decision stands).
    """
    counts: dict[str, int] = defaultdict(int)
    for slug, kind, identifier, access, outcome, asker in uses:
        if slug and countable(kind, identifier, access):
            counts[SEP.join((slug, kind, access, outcome, asker, identifier))] += 1
    client = usage_client()
    if not counts or client is None:
        return
    key = f"{PREFIX}{int((now or time.time()) // 60)}"
    try:
        with client.pipeline(transaction=False) as pipe:
            for name, count in counts.items():
                pipe.hincrby(key, name, count)
            pipe.expire(key, USAGE_TTL)
            pipe.execute()
    except redis.RedisError:
        logger.warning("runtime usage not counted: Redis is unavailable", exc_info=True)


def _claim(client: redis.Redis, now: float) -> None:
    """Rename every closed minute's hash to a flushing name of its own."""
    current = int(now // 60)
    for key in client.scan_iter(match=f"{PREFIX}*", count=1000):
        name = key.decode()
        minute = name[len(PREFIX) :]
        if minute.isdigit() and int(minute) < current:
            try:
                client.rename(name, f"{FLUSHING}{minute}:{uuid.uuid4().hex}")
            except redis.ResponseError:
                continue  # claimed by another run meanwhile


@dataclass(frozen=True)
class Use:
    """One field of a minute's hash: a use, who asked it and how it was answered."""

    slug: str
    kind: str
    access: str
    outcome: str
    asker: str
    identifier: str
    count: int


def _uses(counts: dict) -> list[Use]:
    """Read a hash's fields; one in another shape is logged and left out, not a failed run."""
    found = []
    for name, count in counts.items():
        parts = name.decode().split(SEP)
        if len(parts) != 6:
            logger.warning("runtime usage field of another shape left out: %r", name)
            continue
        found.append(Use(*parts, count=int(count)))
    return found


def _user_id(asker: str) -> int | None:
    """Return the user id an asker names, or None for an asker of another shape."""
    user_id = asker.removeprefix(BOUND)
    return int(user_id) if user_id.isdigit() else None


def _reported(uses: list[Use], agents: dict[str, Agent]) -> list[Use]:
    """Keep the uses whose asker may report the agent's observations: one of its owners, or
    a token bound to it whose user could still bind it."""
    users = get_user_model().objects.in_bulk({_user_id(use.asker) for use in uses} - {None})
    may = {}
    for slug, asker in {(use.slug, use.asker) for use in uses}:
        agent = agents.get(slug)
        user = users.get(_user_id(asker), ANONYMOUS)
        may[slug, asker] = agent is not None and bool(
            can_report_observations(user, agent, bound_to_agent=asker.startswith(BOUND))
        )
    return [use for use in uses if may[use.slug, use.asker]]


def _items(uses: list[Use], minute: int) -> dict[str, list[dict]]:
    """Fold uses into observation items per agent slug: one item per use, its count every
    evaluation of it, its denies those denied, its claim denies those denied for a claim
    alone."""
    seen_at = datetime.fromtimestamp(minute * 60 + 59, tz=UTC)
    per_agent: dict[str, dict[tuple, list[int]]] = defaultdict(dict)
    for use in uses:
        totals = per_agent[use.slug].setdefault((use.kind, use.identifier, use.access), [0, 0, 0])
        totals[0] += use.count
        if use.outcome != ALLOWED:
            totals[1] += use.count
        if use.outcome == CLAIM_DENIED:
            totals[2] += use.count
    return {
        slug: [
            {
                "kind": kind,
                "identifier": identifier,
                "access": access,
                "count": count,
                "denies": denies,
                "claim_denies": claim_denies,
                "seen_at": seen_at.isoformat(),
                "source": SOURCE,
            }
            for (kind, identifier, access), (count, denies, claim_denies) in sorted(uses.items())
        ]
        for slug, uses in per_agent.items()
    }


def denies_in(uses: list[Use]) -> int:
    """Return how many denied evaluations the uses hold."""
    return sum(use.count for use in uses if use.outcome != ALLOWED)


def _flush_one(actor: Actor, name: str, counts: dict) -> tuple[int, int]:
    """Add one claimed hash's uses to observations and record it as flushed, atomically.

    Return how many evaluations the hash counted, and how many of its denies
    became observations: none when another run flushed the hash meanwhile.
    """
    minute = int(name[len(FLUSHING) :].split(":", 1)[0])
    uses = _uses(counts)
    evaluations = sum(use.count for use in uses)
    agents = {a.slug: a for a in Agent.objects.filter(slug__in={use.slug for use in uses})}
    reported = _reported(uses, agents)
    per_agent = _items(reported, minute)
    with transaction.atomic():
        try:
            with transaction.atomic():
                UsageFlush.objects.create(
                    key=name,
                    minute=datetime.fromtimestamp(minute * 60, tz=UTC),
                    evaluations=evaluations,
                    denies=denies_in(uses),
                )
        except IntegrityError:
            # A run at the same time read the hash too and recorded it first (the insert
            # waits for that run to commit): its counts are in, this run adds none.
            return 0, 0
        # The agents' rows are locked before anything is written or audited, in one order:
        # a reviewer handling a finding locks its agent's row first too, then the finding's,
        # and would otherwise hold a finding added to below while waiting for the audit
        # chain's lock this transaction holds from its first event (`approvals.locks`).
        reported_agents = [agents[slug].pk for slug in per_agent]
        list(
            Agent.objects.select_for_update(no_key=True)
            .filter(pk__in=reported_agents)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for slug, items in sorted(per_agent.items()):
            agent = agents[slug]
            claims = []
            for item in items:
                denied = item.pop("claim_denies")
                if denied:
                    claims.append({**item, "count": denied})
            for start in range(0, len(items), MAX_ITEMS):
                chunk = items[start : start + MAX_ITEMS]
                observations_record(actor=actor, agent=agent, items=chunk, decisions=True)
            if claims:
                claim_findings_record(actor=actor, agent=agent, uses=claims)
    return evaluations, denies_in(reported)


def usage_flush(*, actor: Actor, now: float | None = None) -> dict:
    """Fold every closed minute's counts into observations; return what was flushed.

    The answer counts the hashes and evaluations flushed, and the denies that
    became observations (those of askers who may report them).

    Safe to run twice or at once from two workers; see the module's docstring for
    what a crash at any point costs.
    """
    client = usage_client()
    run = {"hashes": 0, "evaluations": 0, "denies": 0}
    if client is None:
        return run
    _claim(client, now or time.time())
    for key in client.scan_iter(match=f"{FLUSHING}*", count=1000):
        name = key.decode()
        if UsageFlush.objects.filter(key=name).exists():
            client.delete(name)  # flushed by a run that stopped before deleting it
            continue
        counts = client.hgetall(name)
        if counts:
            evaluations, denies = _flush_one(actor, name, counts)
            run["hashes"] += 1
            run["evaluations"] += evaluations
            run["denies"] += denies
        client.delete(name)
    return run


def flushes_prune(*, keep: timedelta = timedelta(seconds=2 * USAGE_TTL)) -> int:
    """Delete flush records older than any hash they could still stand for."""
    deleted, _ = UsageFlush.objects.filter(minute__lt=timezone.now() - keep).delete()
    return deleted
