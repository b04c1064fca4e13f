"""Reads behind the product owner's part of the home page: the packages that need them.

A fixed number of queries, however many packages: the packages with their
agents, their sign-offs, the sign-offs' decisions with their reviewers, the
decisions carried-over sign-offs stand on, and the reviewers assigned by name.
"""

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Prefetch, Q

from approvals.models import ApprovalPackage, PackageState
from config.ordering import rank
from signoffs.models import (
    Decision,
    Dimension,
    SignOff,
    SignOffState,
    Verdict,
)
from signoffs.permissions import reviewers_assigned
from web import selectors

# Past this many packages the home page points to the agents list for the rest.
OWNER_HOME_MAX_PACKAGES = 50

CLOSED_STATES = (PackageState.CHANGES_REQUESTED, PackageState.REJECTED)


@dataclass
class SignOffProgress:
    """Where one dimension's sign-off of a package in review stands, and who it waits for."""

    dimension: str
    label: str
    state: str
    state_label: str
    approvals: int
    required: int
    approved_by: list = field(default_factory=list)
    # For a carried-over sign-off: the version whose decisions it stands on.
    carried_from: int | None = None
    # Reviewers assigned to the agent for this dimension; empty: any reviewer of the group.
    assigned: list = field(default_factory=list)

    @property
    def pending(self) -> bool:
        return self.state == SignOffState.PENDING


@dataclass
class Closing:
    """A reviewer's decision that sent a package back: who, for which dimension, and why."""

    reviewer: object
    dimension_label: str
    verdict_label: str
    comment: str
    at: object
    # The decision's id: the owner answers it in place, under the decision on the package page.
    decision_id: int | None = None


CLOSING_WORDS = {Verdict.REQUEST_CHANGES: "requested changes", Verdict.REJECT: "rejected it"}


@dataclass
class OwnerPackage:
    package: ApprovalPackage
    # For a package in review: its four sign-offs in dimension order.
    signoffs: list[SignOffProgress] = field(default_factory=list)
    # For a package closed by a reviewer: the decisions that closed it, newest first.
    closing: list[Closing] = field(default_factory=list)
    # For a closed package: the draft that answers it, if one is under way.
    answer_draft: ApprovalPackage | None = None


@dataclass
class OwnerHome:
    drafts: list[OwnerPackage]
    closed: list[OwnerPackage]
    in_review: list[OwnerPackage]
    truncated: bool

    @property
    def needs_action(self) -> bool:
        return bool(self.drafts or self.closed)


def owner_packages(user):
    """Return the packages of the user's own agents that the owner acts on or waits for.

    Drafts, packages in review, and packages a reviewer sent back (changes
    requested or rejected) that no later submitted version answers yet.
    """
    mine = selectors.agents_visible(user).filter(owners=user)
    answered = ApprovalPackage.objects.filter(
        agent=OuterRef("agent"), version__gt=OuterRef("version")
    ).exclude(state=PackageState.DRAFT)
    decisions = Decision.objects.select_related("reviewer").order_by("-created_at")
    return (
        ApprovalPackage.objects.filter(agent__in=mine)
        .filter(
            Q(state__in=[PackageState.DRAFT, PackageState.IN_REVIEW])
            | Q(state__in=CLOSED_STATES) & ~Exists(answered)
        )
        .select_related("agent", "created_by")
        .prefetch_related(
            Prefetch(
                "signoffs",
                queryset=SignOff.objects.select_related(
                    "carried_over_from__package"
                ).prefetch_related(
                    Prefetch("decisions", decisions),
                    Prefetch("carried_over_from__decisions", decisions),
                ),
            )
        )
        .order_by("-created_at", "-pk")
    )


def _progress(signoff: SignOff, agent_id: int, assigned: dict) -> SignOffProgress:
    # A carried-over sign-off stands on the decisions taken on an earlier version.
    carried = signoff.state == SignOffState.CARRIED_OVER and signoff.carried_over_from
    decisions = list((carried or signoff).decisions.all())
    approvers = [d.reviewer for d in decisions if d.stands and d.verdict == Verdict.APPROVE]
    return SignOffProgress(
        dimension=signoff.dimension,
        label=signoff.get_dimension_display(),
        state=signoff.state,
        state_label=signoff.get_state_display(),
        approvals=len(approvers),
        required=signoff.required_approvals,
        approved_by=approvers[::-1],
        carried_from=carried.package.version if carried else None,
        assigned=assigned.get((agent_id, signoff.dimension), []),
    )


def owner_home(user) -> OwnerHome:
    """Return what the user's own agents' packages need: action first, then waiting."""
    rows = list(owner_packages(user)[: OWNER_HOME_MAX_PACKAGES + 1])
    truncated = len(rows) > OWNER_HOME_MAX_PACKAGES
    rows = rows[:OWNER_HOME_MAX_PACKAGES]
    in_review = [p for p in rows if p.state == PackageState.IN_REVIEW]
    assigned = reviewers_assigned({p.agent_id for p in in_review}) if in_review else {}
    drafts, closed, waiting = [], [], []
    for package in rows:
        signoffs = sorted(package.signoffs.all(), key=lambda s: rank(Dimension)[s.dimension])
        if package.state == PackageState.DRAFT:
            drafts.append(OwnerPackage(package))
        elif package.state == PackageState.IN_REVIEW:
            progress = [_progress(s, package.agent_id, assigned) for s in signoffs]
            waiting.append(OwnerPackage(package, signoffs=progress))
        else:
            closing = [
                Closing(
                    reviewer=d.reviewer,
                    dimension_label=s.get_dimension_display(),
                    verdict_label=CLOSING_WORDS[Verdict(d.verdict)],
                    comment=d.comment,
                    at=d.created_at,
                    decision_id=d.pk,
                )
                for s in signoffs
                for d in s.decisions.all()
                if d.verdict in CLOSING_WORDS
            ]
            closing.sort(key=lambda c: c.at, reverse=True)
            answer = next(
                (
                    d
                    for d in rows
                    if d.state == PackageState.DRAFT
                    and d.agent_id == package.agent_id
                    and d.version > package.version
                ),
                None,
            )
            closed.append(OwnerPackage(package, closing=closing, answer_draft=answer))
    waiting.sort(key=lambda p: (p.package.submitted_at, p.package.pk))
    return OwnerHome(drafts=drafts, closed=closed, in_review=waiting, truncated=truncated)
