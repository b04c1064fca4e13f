"""Targeted re-review: which sign-offs a new version re-opens, and which carry over.

A new version is diffed against the last approved one. The changes that need
a review (expansions and commitment changes, ``approvals.manifest``) touch
some manifest fields; a dimension re-opens when an item of its checklist
covers one of them (``approvals.checklists``), and its approved sign-off
carries over otherwise, with the reason. A version that only narrows or
rewords carries every sign-off over. Every dimension re-opens on the first
version, a re-certification, a rise of the risk tier, a change to the kill
switch or the identity, or when the approved version is no longer approved.
A dimension also re-opens, whatever changed, when a decision it would carry
over was made by the package's creator or submitter or an owner of the agent:
they never sign the package off, through an earlier version neither. A change
submitted once the approved version is due for re-certification is reviewed
in full, and a review in progress re-opens what it carries over when the
approval it carries from lapses (`carried_signoffs_reopen`). A suspension of the
agent sets aside the decisions a review in progress stands on, and re-opens the
sign-offs they decided (`decided_signoffs_reopen`): only a fresh approval lifts it.
"""

from dataclasses import dataclass, field

from django.utils import timezone

from agents.vocabulary import RiskTier, ranks
from approvals.checklists import change_fields, covering_items
from approvals.depth import review_depth
from approvals.manifest import (
    FIELD_CLASSES,
    NEEDS_REVIEW,
    ScopeDiff,
    diff_manifests,
    fields_named,
)
from approvals.models import ApprovalPackage, PackageState
from approvals.policy import recertification_lead, required_approvals
from approvals.selectors import last_approved
from audit.actors import Actor
from audit.chain import format_time
from audit.services import audit_record
from outbox.services import notify
from signoffs.models import Checklist, Decision, Dimension, SignOff, SignOffState
from signoffs.permissions import author_refusal
from signoffs.services import checklist_current

# The event of sign-offs re-opened in a review in progress; one a suspension caused names
# the decisions it set aside (tools/verify-evidence holds a bundle's decisions to it).
SIGNOFFS_REOPENED = "package.signoffs_reopened"
# Why a sign-off decided before a suspension of the agent is open again.
SUSPENDED_REASON = (
    "Re-opened: the agent was suspended after this sign-off was decided; only decisions "
    "made since the suspension lift it."
)
# A change to a field under these sections re-opens every dimension: the kill switch
# and the identity are what every team's sign-off relies on.
FULL_REVIEW_SECTIONS = ("kill_switch", "identity")
FIRST, FULL, TARGETED, CARRIED = "first", "full", "targeted", "carried"
_TIER_RANK = ranks(RiskTier)


@dataclass
class ReviewPlan:
    """What a submitted version's review covers, by dimension, and why."""

    mode: str
    reason: str
    fields: list[str] = field(default_factory=list)
    reopen: dict[str, str] = field(default_factory=dict)
    carry: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """Return the plan as the package, its audit trail and its evidence record it."""
        return {
            "mode": self.mode,
            "reason": self.reason,
            "changed_fields": self.fields,
            "reopened": self.reopen,
            "carried_over": self.carry,
        }


def _all(mode: str, reason: str, fields: list[str] | None = None) -> ReviewPlan:
    """Return a plan that re-opens every dimension for one reason."""
    return ReviewPlan(mode, reason, fields or [], {dim: reason for dim in Dimension.values})


def _section(path: str) -> str:
    return path.partition(".")[0].partition("[")[0]


def review_plan(
    *,
    package: ApprovalPackage,
    base: ApprovalPackage | None,
    diff: ScopeDiff,
    checklists: dict[str, Checklist],
) -> ReviewPlan:
    """Return which dimensions the submitted package re-opens, and which carry over."""
    plan = _plan_by_changes(package=package, base=base, diff=diff, checklists=checklists)
    _reopen_authors_decisions(plan, package, base)
    if plan.mode == TARGETED and base.expires_at <= timezone.now() + recertification_lead():
        # A targeted approval keeps the expiry it carries, already inside the window:
        # waiting, it would hold the re-certification back, which would then supersede it.
        return _all(
            FULL,
            f"v{base.version} is due for re-certification by {base.expires_at.date()}: every "
            "dimension reviews, and the approval re-certifies the scope.",
            plan.fields,
        )
    return plan


def _lapsed_reason(base: ApprovalPackage) -> str:
    """Return why nothing carries over from the base any more, or '' while it is in force.

    The gate denies an approval from its expiry on (`has_lapsed`), before the expiry job
    marks it expired, so nothing leans on it from that moment either.
    """
    state = PackageState(base.state_shown)
    if state == PackageState.APPROVED:
        return ""
    words = state.label.lower()
    return f"v{base.version} is {words}, so nothing carries over: every dimension reviews."


def _plan_by_changes(
    *,
    package: ApprovalPackage,
    base: ApprovalPackage | None,
    diff: ScopeDiff,
    checklists: dict[str, Checklist],
) -> ReviewPlan:
    """Return the plan the changes against the approved version call for."""
    if base is None:
        return _all(FIRST, "The first version: every dimension reviews it.")
    since = f"v{base.version}"
    lapsed = _lapsed_reason(base)
    if lapsed:
        return _all(FULL, lapsed)
    if package.is_recertification:
        return _all(FULL, "A re-certification: every dimension reviews the approved scope again.")
    if _TIER_RANK[package.risk_tier] > _TIER_RANK[base.risk_tier]:
        return _all(
            FULL,
            f"The risk tier rises from {RiskTier(base.risk_tier).label.lower()} to "
            f"{RiskTier(package.risk_tier).label.lower()}: every dimension reviews again.",
        )
    if diff.is_empty:
        return _all(FULL, f"Nothing changed against {since}: a resubmission is reviewed in full.")
    if diff.keeps_approval:
        reason = (
            f"This version only narrows the scope or rewords the narrative approved in {since}."
        )
        carried = f"Carried over from {since}, which this version only narrows or rewords."
        return ReviewPlan(CARRIED, reason, carry={dim: carried for dim in Dimension.values})
    fields = sorted(
        {
            path
            for c in diff.changes
            if c.classification in NEEDS_REVIEW
            for path in change_fields(c)
        }
    )
    bound = [path for path in fields if _section(path) in FULL_REVIEW_SECTIONS]
    if bound:
        return _all(
            FULL,
            f"This version changes {fields_named(bound)}; every dimension relies on the kill "
            "switch and the identity, so every dimension reviews again.",
            fields,
        )
    unknown = [path for path in fields if path not in FIELD_CLASSES]
    if unknown:
        return _all(FULL, f"Changed fields no checklist knows: {fields_named(unknown)}.", fields)
    plan = ReviewPlan(
        TARGETED, f"This version changes {fields_named(fields)} against {since}.", fields
    )
    changed = set(fields)
    for dimension in Dimension.values:
        checklist = checklists[dimension]
        label = Dimension(dimension).label
        if not any(item.covers for item in checklist.items.all()):
            plan.reopen[dimension] = (
                f"The {label} checklist v{checklist.version} declares no field coverage, "
                "so it reviews every change."
            )
            continue
        covering = covering_items(checklist, changed)
        if covering:
            plan.reopen[dimension] = (
                "Re-opened: "
                + "; ".join(
                    f"{code} covers {fields_named(paths)}" for code, paths in covering.items()
                )
                + "."
            )
        else:
            plan.carry[dimension] = (
                f"Carried over from {since}: no item of the {label} checklist covers "
                f"{fields_named(fields)}."
            )
    if not plan.reopen:  # a change nobody would re-read: everyone reads it
        return _all(FULL, f"No checklist item covers {fields_named(fields)}.", fields)
    return plan


# Why a dimension re-opens when a decision it would carry over is one the package's own
# sign-off refuses, by `author_refusal`'s code.
_AUTHOR_REOPENS = {
    "self_review": "Re-opened: {who}, who decided it in v{version}, created or submitted this "
    "version; nobody signs off their own package.",
    "owner_review": "Re-opened: {who}, who decided it in v{version}, owns the agent; its owners "
    "never sign off its packages.",
}


def _reopen_authors_decisions(
    plan: ReviewPlan, package: ApprovalPackage, base: ApprovalPackage | None
) -> None:
    """Re-open each carried dimension that stands on a decision of one the package refuses.

    A carried-over sign-off counts as a decision on this package, so a decision
    by its creator, its submitter or an owner of the agent (`author_refusal`)
    would sign it off through an earlier version: that dimension is reviewed
    again. A decision a suspension set aside is not one it stands on. A plan that
    carried everything over becomes a targeted one.
    """
    if not plan.carry or base is None:
        return
    signoffs = base.signoffs.filter(dimension__in=list(plan.carry)).select_related(
        "carried_over_from__package", "package"
    )
    for signoff in signoffs:
        decided = _decided(signoff)
        for decision in decided.decisions.standing().select_related("reviewer").order_by("pk"):
            refusal = author_refusal(decision.reviewer, package)
            if refusal is None:
                continue
            del plan.carry[signoff.dimension]
            plan.reopen[signoff.dimension] = _AUTHOR_REOPENS[refusal.code].format(
                who=decision.reviewer.get_username(), version=decided.package.version
            )
            break
    plan.reopen = {dim: plan.reopen[dim] for dim in Dimension.values if dim in plan.reopen}
    if plan.reopen and plan.mode == CARRIED:
        plan.mode = TARGETED


def review_plan_preview(package: ApprovalPackage) -> ReviewPlan:
    """Return the plan a draft would get if it were submitted now; nothing is written."""
    base = last_approved(package.agent)
    diff = diff_manifests(base.manifest if base else None, package.manifest)
    checklists = {dim: checklist_current(dim) for dim in Dimension.values}
    return review_plan(package=package, base=base, diff=diff, checklists=checklists)


def _decided(signoff: SignOff) -> SignOff:
    """Return the sign-off whose decisions a carried-over one stands on."""
    while signoff.state == SignOffState.CARRIED_OVER and signoff.carried_over_from_id:
        signoff = signoff.carried_over_from
    return signoff


def signoffs_open(
    *, package: ApprovalPackage, base: ApprovalPackage | None, diff: ScopeDiff
) -> ReviewPlan:
    """Create the submitted package's sign-offs by its review plan and depth; return the plan.

    A re-opened sign-off needs the items its tier's review depth requires; a
    carried-over one points at the sign-off that was decided.
    """
    checklists = {dim: checklist_current(dim) for dim in Dimension.values}
    plan = review_plan(package=package, base=base, diff=diff, checklists=checklists)
    depth = review_depth(tier=package.risk_tier, manifest=package.manifest)
    carried = {
        s.dimension: _decided(s)
        for s in (base.signoffs.select_related("carried_over_from") if plan.carry else ())
        if s.dimension in plan.carry
    }
    SignOff.objects.bulk_create(
        SignOff(
            package=package,
            dimension=dimension,
            checklist=checklist,
            required_approvals=required_approvals(package.risk_tier, dimension),
            required_items=depth.required_items(checklist),
            state=SignOffState.CARRIED_OVER if dimension in plan.carry else SignOffState.PENDING,
            carried_over_from=carried.get(dimension),
            review_reason=plan.carry.get(dimension) or plan.reopen.get(dimension, ""),
        )
        for dimension, checklist in checklists.items()
    )
    package.review_plan = {**plan.as_dict(), "depth": depth.as_dict()}
    package.save(update_fields=["review_plan"])
    return plan


def carried_signoffs_reopen(*, actor: Actor, package: ApprovalPackage) -> bool:
    """Re-open the sign-offs a review in progress carries over from an approval no longer in
    force; return whether any re-opened. The caller holds the package lock.

    The review becomes a full one: the decisions made on it stand, the re-opened
    dimensions review the version, and its approval gets a lifetime of its own
    (`approvals.policy.approval_expiry`) instead of the lapsed approval's expiry.
    """
    if not package.carries_from_lapsed:
        return False
    carried = list(
        package.signoffs.select_for_update(no_key=True, of=("self",))
        .filter(state=SignOffState.CARRIED_OVER)
        .select_related("carried_over_from__package")
    )
    if not carried:
        return False
    reason = _lapsed_reason(package.base)
    origins = {
        s.dimension: s.carried_over_from.package.version if s.carried_over_from else None
        for s in carried
    }
    # Their review starts now: the target counts from here, not the submission (`signoffs.sla`).
    _reopen_signoffs(
        actor=actor,
        package=package,
        signoffs=carried,
        reason=reason,
        at=timezone.now(),
        plan={"mode": FULL, "reason": reason, "carried_over": {}},
        data={"reopened": origins},
    )
    return True


def decided_signoffs_reopen(*, actor: Actor, package: ApprovalPackage, at) -> bool:
    """Set aside the decisions a review in progress stands on and re-open what they decided;
    return whether any were. The caller holds the package lock and suspends the agent at `at`.

    The decisions stay in the sign-offs' history, marked set aside at the suspension's
    moment, and count no more (`signoffs.models.DecisionQuerySet.standing`): the
    approval that lifts the suspension stands on decisions made after it alone. The
    review carries nothing over (a suspension revokes a review that does).
    """
    decided = Decision.objects.standing().filter(signoff__package=package).values("signoff")
    signoffs = list(
        package.signoffs.select_for_update(no_key=True).filter(pk__in=decided).order_by("pk")
    )
    if not signoffs:
        return False
    standing = Decision.objects.standing().filter(signoff__in=signoffs).order_by("pk")
    set_aside: dict[str, list[int]] = {}
    for dimension, pk in standing.values_list("signoff__dimension", "pk"):
        set_aside.setdefault(dimension, []).append(pk)
    standing.update(set_aside_at=at)
    # Their reviewers decide again from the suspension on: so counts the target (`signoffs.sla`).
    dimensions = [dim for dim in Dimension.values if dim in set_aside]
    _reopen_signoffs(
        actor=actor,
        package=package,
        signoffs=signoffs,
        reason=SUSPENDED_REASON,
        at=at,
        plan={},
        data={
            "reopened": dict.fromkeys(dimensions),
            "set_aside": {dim: set_aside[dim] for dim in dimensions},
            "set_aside_at": format_time(at),
        },
    )
    return True


def _reopen_signoffs(
    *, actor: Actor, package: ApprovalPackage, signoffs, reason: str, at, plan: dict, data: dict
) -> None:
    """Re-open the sign-offs for `reason`, their review counting from `at`; note them in the
    package's review plan (with `plan`'s other keys), audit it with `data`, and tell the
    owners and reviewers."""
    for signoff in signoffs:
        signoff.state = SignOffState.PENDING
        signoff.carried_over_from = None
        signoff.review_reason = reason
        signoff.reopened_at = at
        fields = ["state", "carried_over_from", "review_reason", "reopened_at", "updated_at"]
        signoff.save(update_fields=fields)
    dimensions = [dim for dim in Dimension.values if dim in {s.dimension for s in signoffs}]
    reopened = {**package.review_plan.get("reopened", {}), **dict.fromkeys(dimensions, reason)}
    package.review_plan = {
        **package.review_plan,
        **plan,
        "reopened": {dim: reopened[dim] for dim in Dimension.values if dim in reopened},
    }
    package.save(update_fields=["review_plan"])
    audit_record(
        actor=actor,
        action=SIGNOFFS_REOPENED,
        target=package,
        agent_slug=package.agent.slug,
        package_version=package.version,
        data={"reason": reason, **data},
    )
    notify(
        "package.signoffs_reopened",
        package=package,
        data={
            "reason": reason,
            "reopened": ", ".join(Dimension(dim).label for dim in dimensions),
        },
    )
