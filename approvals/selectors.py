"""Reads of the release workflow that several apps' views and services share."""

from collections.abc import Iterable
from functools import reduce
from operator import or_

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, CharField, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Cast
from django.utils import timezone
from guardian.models import UserObjectPermission

from agents.models import Agent, AgentStatus
from agents.permissions import review_permission
from approvals.models import ApprovalPackage, EmergencyState, PackageState
from signoffs.models import Dimension, SignOff, SignOffState
from signoffs.permissions import reviewers_able


def last_approved(agent: Agent) -> ApprovalPackage | None:
    """Return the agent's most recently approved version, whatever became of it since."""
    return (
        ApprovalPackage.objects.filter(agent=agent, approved_at__isnull=False)
        .order_by("-version")
        .first()
    )


def in_force(now=None) -> Q:
    """Select the approvals in force now (or at `now`): approved and not past their expiry.

    The queryset twin of `ApprovalPackage.has_lapsed`; a test holds the two together.
    """
    return Q(state=PackageState.APPROVED, expires_at__gt=now or timezone.now())


def shown_as(states: Iterable[str], now=None) -> Q:
    """Select the packages whose `state_shown` is one of `states` (now, or at `now`).

    The queryset twin of `ApprovalPackage.state_shown`: an approval past its expiry is
    expired, not approved, before the expiry job marks it.
    """
    now = now or timezone.now()

    def shown(state: str) -> Q:
        if state == PackageState.APPROVED:
            return in_force(now)
        if state == PackageState.EXPIRED:
            return Q(state=state) | Q(state=PackageState.APPROVED, expires_at__lte=now)
        return Q(state=state)

    return reduce(or_, map(shown, states), Q(pk__in=[]))


def state_shown_expression(now=None) -> Case:
    """The database's `ApprovalPackage.state_shown` (now, or at `now`), to group by: an
    approval past its expiry reads as expired before the expiry job marks it."""
    return Case(
        When(Q(state=PackageState.APPROVED) & ~in_force(now), then=Value(PackageState.EXPIRED)),
        default=F("state"),
        output_field=CharField(),
    )


def emergency_pending() -> Q:
    """Select the emergency approvals asked for or inside their time box now.

    The queryset twin of `EmergencyApproval.state_shown`: an active one past its end
    is expired from that moment, whether or not the emergencies job marked it.
    """
    return Q(state=EmergencyState.REQUESTED) | Q(
        state=EmergencyState.ACTIVE, ends_at__gt=timezone.now()
    )


def package_in_force(agent: Agent) -> ApprovalPackage | None:
    """Return the agent's approved package, or None when none is in force now."""
    return agent.packages.filter(in_force()).first()


def kill_switch_webhook(agent: Agent) -> str | None:
    """Return the kill-switch webhook of the newest version ever allowed to ship.

    That version's runtime may be the one running: a version shipped on an emergency
    approval counts as much as an approved one.
    """
    shipped = (
        ApprovalPackage.objects.filter(agent=agent)
        .filter(Q(approved_at__isnull=False) | Q(emergency__granted_at__isnull=False))
        .order_by("-version")
        .values_list("manifest", flat=True)
        .first()
    )
    return shipped["kill_switch"].get("webhook") if shipped else None


def agent_status(agent: Agent, packages: Iterable[ApprovalPackage]) -> tuple[str, str]:
    """Derive the agent's lifecycle status and risk tier from its packages (newest first)
    and its kill switch.

    An approval past its expiry counts as expired from that moment, as the gate has it,
    whether or not the job has marked it yet.
    """
    packages = list(packages)
    approved = next((p for p in packages if p.state_shown == PackageState.APPROVED), None)
    # A draft is the owner's work in progress: the agent stands where its last submitted
    # version left it, so a draft after a request for changes still reads as one.
    submitted = next((p for p in packages if p.state != PackageState.DRAFT), None)
    if agent.retired_at is not None:
        status = AgentStatus.RETIRED
    elif agent.suspended_at is not None:
        status = AgentStatus.SUSPENDED
    elif approved is not None:
        status = AgentStatus.APPROVED
    elif submitted is None:
        status = AgentStatus.NEW
    else:
        status = {
            PackageState.IN_REVIEW: AgentStatus.IN_REVIEW,
            PackageState.CHANGES_REQUESTED: AgentStatus.CHANGES_REQUESTED,
            PackageState.REJECTED: AgentStatus.REJECTED,
            PackageState.EXPIRED: AgentStatus.EXPIRED,
            PackageState.SUPERSEDED: AgentStatus.IN_REVIEW,
            PackageState.REVOKED: AgentStatus.EXPIRED,
        }[PackageState(submitted.state_shown)]
    tiered = approved or (packages[0] if packages else None)
    return status, tiered.risk_tier if tiered else ""


def signoffs_left_behind() -> QuerySet:
    """Return the pending sign-offs in review that wait only for people who cannot decide them.

    A sign-off staff reassigned waits for that one reviewer; one of an agent with
    reviewers assigned for its dimension waits for them. When every one of them has
    been deactivated or has left the dimension's reviewer group since, nobody it
    waits for decides it: it stays pending until a fallback reviewer takes it over
    past the review target, if the agent has one, or until staff reassign it.
    """
    reassigned = Q(assigned_to__isnull=False) & ~Exists(
        reviewers_able(OuterRef("dimension")).filter(pk=OuterRef("assigned_to_id"))
    )
    agent_type = ContentType.objects.get_for_model(Agent)
    by_agent = []
    for dimension in Dimension.values:
        named = UserObjectPermission.objects.filter(
            content_type=agent_type,
            object_pk=Cast(OuterRef("package__agent_id"), CharField()),
            permission__codename=review_permission(dimension),
        )
        able = named.filter(user__in=reviewers_able(dimension))
        by_agent.append(
            Q(dimension=dimension, assigned_to__isnull=True) & Exists(named) & ~Exists(able)
        )
    return (
        SignOff.objects.filter(package__state=PackageState.IN_REVIEW, state=SignOffState.PENDING)
        .filter(reduce(or_, by_agent, reassigned))
        .select_related("package__agent", "assigned_to")
        .order_by("package__submitted_at", "pk")
    )
