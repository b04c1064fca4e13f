"""Reads behind the pages: every query here is scoped to what the user may see."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from agents.models import Agent, AgentStatus, Team
from agents.permissions import sees_every_agent
from approvals.manifest import DIFF_GROUPS, NEEDS_REVIEW, change_named
from approvals.models import (
    ApprovalPackage,
    DriftFinding,
    EmergencyApproval,
    FindingStatus,
    PackageState,
)
from approvals.selectors import emergency_pending, in_force, state_shown_expression
from audit.filters import AuditEventFilterSet, first_of
from audit.models import AuditEvent
from audit.permissions import can_read_audit
from config.errors import InvalidInput
from config.ordering import rank, ranked
from signoffs.models import (
    Decision,
    Dimension,
    SignOff,
    SignOffState,
    Verdict,
    standing_condition,
)


def _per_request(user, name: str, compute):
    """Return a value computed once per user object, i.e. once per request."""
    cache = getattr(user, "_countersign_cache", None)
    if cache is None:
        cache = {}
        user._countersign_cache = cache
    if name not in cache:
        cache[name] = compute()
    return cache[name]


def agents_visible(user) -> QuerySet:
    """Return the agents the user may see (a lazy queryset, usable as a subquery)."""
    return _per_request(user, "visible", lambda: Agent.objects.visible_to(user)).all()


def user_dimensions(user) -> list[str]:
    """Return the sign-off dimensions whose reviewer group the user belongs to."""

    def compute():
        names = set(user.groups.filter(name__in=Dimension.values).values_list("name", flat=True))
        return [dimension for dimension in Dimension.values if dimension in names]

    return _per_request(user, "dimensions", compute)


def agents_list(user) -> QuerySet:
    """Return the visible agents with their owners and current approval, by slug."""
    current = ApprovalPackage.objects.filter(in_force(), agent=OuterRef("pk"))
    return (
        agents_visible(user)
        .annotate(
            approved_version=Subquery(current.values("version")[:1]),
            approval_expires_at=Subquery(current.values("expires_at")[:1]),
        )
        .select_related("team")
        .prefetch_related("owners")
        .order_by("slug")
    )


def teams_visible(user) -> list[str]:
    """Return the slugs of the visible agents' teams, for the filter's choices."""
    return list(
        Team.objects.filter(agents__in=agents_visible(user))
        .order_by("slug")
        .values_list("slug", flat=True)
        .distinct()
    )


def teams_choosable(user, current: Team | None = None) -> QuerySet:
    """Return the teams the user may give an agent: staff any, others their own teams.

    The agent's current team stays a choice, so keeping it is no change.
    """
    if user.is_staff:
        return Team.objects.order_by("slug")
    mine = Q(members=user)
    if current is not None:
        mine |= Q(pk=current.pk)
    return Team.objects.filter(pk__in=Team.objects.filter(mine).values("pk")).order_by("slug")


def packages_awaiting(user) -> QuerySet:
    """Return the pending sign-offs of the user's dimensions, oldest submission first.

    Sign-offs of packages the user wrote or owns, and of packages the user has
    already decided a dimension of (carried-over decisions included, those a suspension
    set aside not), are left out: the user may not decide them.
    """
    dimensions = user_dimensions(user)
    mine = Decision.objects.standing().filter(reviewer=user)
    decided = mine.values("signoff__package_id")
    # A decision carried over to a later version counts as one on it.
    carried = SignOff.objects.filter(carried_over_from__in=mine.values("signoff")).values(
        "package_id"
    )
    owned = Agent.owners.through.objects.filter(user=user).values("agent_id")
    return (
        SignOff.objects.filter(
            dimension__in=dimensions,
            state=SignOffState.PENDING,
            package__state=PackageState.IN_REVIEW,
            package__agent__in=agents_visible(user),
        )
        .exclude(package_id__in=decided)
        .exclude(package_id__in=carried)
        .exclude(package__agent_id__in=owned)
        .exclude(package__owners_in_review=user)
        .exclude(package__submitted_by=user)
        .exclude(package__created_by=user)
        .annotate(
            approvals=Count(
                "decisions",
                filter=Q(decisions__verdict=Verdict.APPROVE) & standing_condition("decisions__"),
            )
        )
        .select_related("package", "package__agent")
        .order_by("package__submitted_at", "package_id", ranked(Dimension, "dimension"))
    )


def packages_list(user) -> QuerySet:
    """Return the visible agents' packages, newest first, with their agents and sign-offs."""
    return (
        ApprovalPackage.objects.filter(agent__in=agents_visible(user))
        .select_related("agent")
        .prefetch_related(
            Prefetch("signoffs", queryset=SignOff.objects.only("dimension", "state", "package_id"))
        )
        .order_by("-created_at", "-pk")
    )


def package_state_counts(user, *, owner=None) -> dict[str, int]:
    """Return the number of visible packages in each state, every state present.

    With `owner`, only the packages of the agents that user owns.
    """
    agents = agents_visible(user)
    if owner is not None:
        agents = agents.filter(owners=owner)
    # By the state the pages show, which the packages list each count links to filters by.
    rows = (
        ApprovalPackage.objects.filter(agent__in=agents)
        .values(shown=state_shown_expression())
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = dict.fromkeys(PackageState.values, 0)
    counts.update({row["shown"]: row["n"] for row in rows})
    return counts


def agent_status_counts(user) -> dict[str, int]:
    """Return the number of visible agents in each lifecycle status."""
    rows = agents_visible(user).values("status").annotate(n=Count("pk")).order_by()
    counts = dict.fromkeys(AgentStatus.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def approvals_expiring(user, *, within_days: int | None = None, now: datetime | None = None):
    """Return the approvals in force expiring within the recertification lead time, soonest
    first: one past its expiry is expired (`in_force`), marked by the job or not."""
    now = now or timezone.now()
    days = within_days or settings.COUNTERSIGN["RECERTIFICATION_LEAD_DAYS"]
    return (
        ApprovalPackage.objects.filter(
            in_force(now),
            agent__in=agents_visible(user),
            expires_at__lte=now + timedelta(days=days),
        )
        .select_related("agent")
        .order_by("expires_at")
    )


def drift_open(user) -> QuerySet:
    """Return the visible open drift findings, most recent first."""
    return (
        DriftFinding.objects.filter(agent__in=agents_visible(user), status=FindingStatus.OPEN)
        .select_related("agent", "package")
        .order_by("-last_seen")
    )


def agents_suspended(user) -> QuerySet:
    """Return the visible suspended agents, most recently suspended first."""
    return agents_visible(user).filter(suspended_at__isnull=False).order_by("-suspended_at")


def agent_packages(agent) -> QuerySet:
    """Return an agent's versions, newest first, with their sign-offs."""
    return (
        ApprovalPackage.objects.filter(agent=agent)
        .select_related("created_by", "submitted_by")
        .prefetch_related(
            Prefetch("signoffs", queryset=SignOff.objects.order_by(ranked(Dimension, "dimension")))
        )
        .order_by("-version")
    )


def package_signoffs(package) -> list[SignOff]:
    """Return the package's sign-offs in dimension order, with decisions and checklist items.

    A carried-over sign-off comes with the decisions of the one it carries over.
    """
    decisions = Decision.objects.select_related("reviewer", "on_behalf_of")
    signoffs = (
        SignOff.objects.filter(package=package)
        .select_related("checklist", "carried_over_from__package", "assigned_to")
        .prefetch_related(
            Prefetch("decisions", queryset=decisions),
            Prefetch("carried_over_from__decisions", queryset=decisions),
            "checklist__items",
        )
    )
    result = sorted(signoffs, key=lambda signoff: rank(Dimension)[signoff.dimension])
    for signoff in result:
        signoff.package = package
    return result


def changes_needing_review(diff: dict | None) -> list[dict]:
    """Return the changes of a stored diff that need a review again, the expansions first,
    each with its words, its path and its class in words (``change_named``)."""
    return [
        change_named(change)
        for group, classification in DIFF_GROUPS
        if classification in NEEDS_REVIEW
        for change in (diff or {}).get(group, [])
    ]


def audit_timeline(agent, *, limit: int = 50) -> list[AuditEvent]:
    """Return the agent's latest audit events, newest first."""
    return list(AuditEvent.objects.filter(agent_slug=agent.slug).order_by("-seq")[:limit])


@dataclass
class AuditPage:
    events: list
    newer: int | None
    older: int | None


AUDIT_FILTERS = ("agent", "actor", "action", "since", "until")


def _first(parts: list, order: str, limit: int) -> list:
    """Return the first `limit` events in `order` of the disjoint `parts`
    (``AuditEventFilterSet.parts``), read among the first `limit` of each part, each
    walked by its own index."""
    events = first_of(parts, order, limit) if len(parts) > 1 else parts[0]
    return list(events.order_by(order)[:limit])


def audit_events(
    *,
    user,
    filters=None,
    before: int | None = None,
    after: int | None = None,
    limit: int = 50,
) -> AuditPage:
    """Return one page of the audit events the user may see, newest first, by sequence number.

    The filters are those of the exports (``audit.filters.AuditEventFilterSet``),
    so a download holds what the page shows. Keyset paging (``seq < before`` or
    ``seq > after``) reads only the rows shown, whatever the size of the trail,
    and nothing counts the table. Audit readers see every event; anyone else
    only the events of the agents they may see.
    """
    events = AuditEvent.objects.all()
    slugs = None
    if not can_read_audit(user):
        if sees_every_agent(user):
            events = events.exclude(agent_slug="")
        else:
            slugs = list(agents_visible(user).values_list("slug", flat=True))
    data = {name: (filters or {}).get(name) for name in AUDIT_FILTERS}
    filterset = AuditEventFilterSet({k: v for k, v in data.items() if v}, queryset=events)
    if not filterset.is_valid():
        raise InvalidInput(
            "Some filters are invalid.",
            fields={name: [str(m) for m in msgs] for name, msgs in filterset.errors.items()},
        )
    # An owner's agents are read apart, as the API reads a bound token's.
    parts = filterset.parts(agents=slugs)
    if after is not None:
        parts = [part.filter(seq__gt=after) for part in parts]
        rows = _first(parts, "seq", limit + 1)
        has_newer = len(rows) > limit
        rows = rows[:limit][::-1]
        has_older = bool(rows)
    else:
        if before is not None:
            parts = [part.filter(seq__lt=before) for part in parts]
        rows = _first(parts, "-seq", limit + 1)
        has_older = len(rows) > limit
        rows = rows[:limit]
        has_newer = before is not None and bool(rows)
    return AuditPage(
        events=rows,
        newer=rows[0].seq if rows and has_newer else None,
        older=rows[-1].seq if rows and has_older else None,
    )


def emergencies_open(user) -> QuerySet:
    """Return the visible emergency approvals asked for or in their time box, soonest end first."""
    return (
        EmergencyApproval.objects.filter(emergency_pending(), agent__in=agents_visible(user))
        .select_related("package", "agent", "requested_by")
        .order_by(F("ends_at").asc(nulls_last=True), "requested_at")
    )
