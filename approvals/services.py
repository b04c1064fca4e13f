"""The release workflow: packages, sign-offs, approval, expiry, the kill switch."""

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from agents.membership import actor_user_lock
from agents.models import Agent, AgentStatus
from agents.permissions import can_edit, can_suspend
from agents.services import (
    agent_approved_save,
    agent_fields_from_manifest,
    manifest_agent_check,
    manifest_team_check,
    refuse_retired,
)
from approvals import manifest as manifests
from approvals.emergency_state import emergency_conclude, emergency_end
from approvals.locks import package_lock
from approvals.models import ALLOWED_TRANSITIONS, ApprovalPackage, PackageState, ScopeEntry
from approvals.policy import RATING_FIELDS, approval_expiry, kill_switch_problem, package_rate
from approvals.rereview import carried_signoffs_reopen, decided_signoffs_reopen, signoffs_open
from approvals.selectors import agent_status, kill_switch_webhook, last_approved
from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, InvalidTransition, NotFound, NotPermitted
from config.reasons import reason_checked
from config.times import whole_second
from outbox.services import notify
from signoffs.absence import delegations_lock
from signoffs.models import Dimension, SignOffState
from signoffs.permissions import decision_standing
from signoffs.services import decision_on_behalf_of, decision_record
from tokens.accounts import system_account_get_or_create


def _transition(package: ApprovalPackage, target: PackageState) -> PackageState:
    """Check a move against the transition table and return the state left."""
    current = PackageState(package.state)
    if target not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(
            f"A {current.label.lower()} package cannot become {target.label.lower()}.",
            code="invalid_transition",
        )
    package.state = target
    return current


def parse_manifest(data, content_type: str | None = None) -> dict:
    """Return the normalized manifest, or raise InvalidInput naming each bad field."""
    try:
        return manifests.load_manifest(data, content_type)
    except manifests.ManifestError as error:
        fields = {
            f"manifest.{path}" if path != "manifest" else path: msgs
            for path, msgs in error.errors.items()
        }
        raise InvalidInput("The manifest is not valid.", code="invalid_manifest", fields=fields)


def _entries_replace(package: ApprovalPackage, manifest: dict) -> None:
    package.entries.all().delete()
    ScopeEntry.objects.bulk_create(
        ScopeEntry(
            package=package,
            kind=manifests.KIND_BY_KEY[key],
            identifier=entry["id"],
            access=entry["access"],
            classification=entry["classification"],
            trust_boundary=entry["trust_boundary"],
            privileged=entry["privileged"],
            constraints=entry["constraints"],
            justification=entry["justification"],
        )
        for key in manifests.SCOPE_KINDS
        for entry in manifest["scope"][key]
    )


def package_summary(package: ApprovalPackage) -> dict:
    return {
        "state": package.state,
        "version": package.version,
        "digest": package.digest,
        "risk_tier": package.risk_tier,
    }


@transaction.atomic
def package_create(
    *,
    actor: Actor,
    agent: Agent,
    manifest,
    content_type: str | None = None,
    is_recertification: bool = False,
) -> ApprovalPackage:
    """Create a new draft version of the agent's package from a manifest."""
    # As the last change of its owners, and of the actor's rights, left them (approvals.locks).
    agent = Agent.objects.select_for_update(no_key=True).get(pk=agent.pk)
    if not actor.is_system and not can_edit(actor_user_lock(actor=actor), agent):
        raise NotPermitted(
            "Only the agent's owners and staff may write its packages.", code="not_owner"
        )
    source_digest = manifests.source_digest(manifest, content_type)  # before parsing it
    doc = parse_manifest(manifest, content_type)
    manifest_agent_check(agent, doc)
    if not is_recertification:  # a re-certification copies the approved scope as it is
        manifest_team_check(agent, doc)
    refuse_retired(agent)
    version = (agent.packages.aggregate(v=Max("version"))["v"] or 0) + 1
    created_by = actor.user
    if created_by is None:  # an inactive account: it cannot sign in or use tokens
        created_by = system_account_get_or_create(actor=actor)
    package = ApprovalPackage(
        agent=agent,
        version=version,
        manifest=doc,
        digest=manifests.text_digest(manifests.canonical_json(doc)),
        source_digest=source_digest,
        is_recertification=is_recertification,
        created_by=created_by,
    )
    package_rate(package, agent)
    package.save(force_insert=True)
    _entries_replace(package, doc)
    base = last_approved(agent)
    package.diff = manifests.diff_manifests(base.manifest if base else None, doc).as_dict()
    package.save(update_fields=["diff"])
    audit_record(
        actor=actor,
        action="package.created",
        target=package,
        agent_slug=agent.slug,
        package_version=version,
        after=package_summary(package),
        data={"is_recertification": is_recertification},
    )
    agent_refresh_status(agent=agent)
    return package


@transaction.atomic
def package_update_draft(
    *, actor: Actor, package: ApprovalPackage, manifest, content_type: str | None = None
) -> ApprovalPackage:
    """Replace a draft's manifest; submitted packages are immutable."""
    package = package_lock(package)
    if not can_edit(actor_user_lock(actor=actor), package.agent):
        raise NotPermitted(
            "Only the agent's owners and staff may edit its packages.", code="not_owner"
        )
    if package.state != PackageState.DRAFT:
        raise InvalidTransition(
            "A submitted package is immutable; create a new version instead.", code="immutable"
        )
    refuse_retired(package.agent)
    source_digest = manifests.source_digest(manifest, content_type)  # before parsing it
    doc = parse_manifest(manifest, content_type)
    manifest_agent_check(package.agent, doc)
    manifest_team_check(package.agent, doc)
    before = package_summary(package)
    base = last_approved(package.agent)
    package.manifest = doc
    package.digest = manifests.text_digest(manifests.canonical_json(doc))
    package.source_digest = source_digest
    package_rate(package, package.agent)
    package.diff = manifests.diff_manifests(base.manifest if base else None, doc).as_dict()
    package.save(update_fields=["manifest", "digest", "source_digest", "diff", *RATING_FIELDS])
    _entries_replace(package, doc)
    audit_record(
        actor=actor,
        action="package.updated",
        target=package,
        agent_slug=package.agent.slug,
        package_version=package.version,
        before=before,
        after=package_summary(package),
    )
    return package


@transaction.atomic
def package_submit(*, actor: Actor, package: ApprovalPackage) -> ApprovalPackage:
    """Submit a draft for review.

    A version that only narrows the approved version's scope or rewords its
    narrative carries its sign-offs over; an expansion or commitment change
    re-opens the dimensions whose checklist items cover the changed fields,
    and the others carry over (``approvals.rereview``).
    """
    package = package_lock(package)
    agent = package.agent
    if not actor.is_system and not can_edit(actor_user_lock(actor=actor), agent):
        raise NotPermitted(
            "Only the agent's owners and staff may submit its packages.", code="not_owner"
        )
    refuse_retired(agent)
    manifest_agent_check(agent, package.manifest)  # again: another agent may have its identity
    now = timezone.now()
    package_rate(package, agent)  # again: the runtime's fact may have changed since the draft
    stale = kill_switch_problem(package, now.date())
    if stale:
        raise InvalidInput(
            stale, code="kill_switch_untested", fields={"manifest.kill_switch.last_tested": [stale]}
        )
    before = _transition(package, PackageState.IN_REVIEW)
    base = last_approved(agent)
    if base is not None and base.version > package.version:
        # The gate reads the highest approved version: approving an older one would
        # leave it deciding from the version this one supersedes.
        raise InvalidTransition(
            f"v{base.version} was approved after this draft was made; start a new version "
            f"from v{base.version}.",
            code="draft_outdated",
        )
    diff = manifests.diff_manifests(base.manifest if base else None, package.manifest)
    package.base = base
    package.diff = diff.as_dict()
    package.submitted_by = actor.user
    package.submitted_at = now
    fields = ["state", "base", "diff", "submitted_by", "submitted_at", *RATING_FIELDS]
    package.save(update_fields=fields)
    # The agent's row lock (package_lock) orders this against an owner change.
    package.owners_in_review.set(agent.owners.all())
    for pending in (
        agent.packages.select_for_update(no_key=True)
        .filter(state=PackageState.IN_REVIEW)
        .exclude(pk=package.pk)
    ):
        _close(actor, pending, PackageState.SUPERSEDED, f"Superseded by v{package.version}.")
    plan = signoffs_open(package=package, base=base, diff=diff)
    audit_record(
        actor=actor,
        action="package.submitted",
        target=package,
        agent_slug=agent.slug,
        package_version=package.version,
        before={"state": before},
        after=package_summary(package),
        data={
            "base_version": base.version if base else None,
            "diff": package.diff,
            "review_plan": package.review_plan,
        },
    )
    notify("package.submitted", package=package)
    if plan.carry:
        audit_record(
            actor=actor,
            action="package.signoffs_carried_over",
            target=package,
            agent_slug=agent.slug,
            package_version=package.version,
            data={
                "from_version": base.version,
                "narrowings": package.diff["narrowings"],
                "narrative": package.diff["narrative"],
                **plan.as_dict(),
            },
        )
    if not plan.reopen:
        package.carried_over = True
        package.save(update_fields=["carried_over"])
        _approve(actor, package, now)
    agent_refresh_status(agent=agent)
    return package


def _close(actor: Actor, package: ApprovalPackage, target: PackageState, reason: str) -> None:
    before = _transition(package, target)
    package.closed_at = timezone.now()
    package.state_reason = reason
    package.save(update_fields=["state", "closed_at", "state_reason"])
    audit_record(
        actor=actor,
        action=f"package.{target.value}",
        target=package,
        agent_slug=package.agent.slug,
        package_version=package.version,
        before={"state": before},
        after={"state": package.state},
        data={"reason": reason},
    )
    if before == PackageState.IN_REVIEW:
        emergency_end(actor=actor, package=package, reason=reason)


def _approve(actor: Actor, package: ApprovalPackage, now) -> None:
    """Approve the package, supersede the older approval and lift a suspension."""
    agent = package.agent
    stale = kill_switch_problem(package, now.date())
    if stale:
        raise NotPermitted(stale, code="kill_switch_untested")
    for older in agent.packages.select_for_update(no_key=True).filter(state=PackageState.APPROVED):
        _close(actor, older, PackageState.SUPERSEDED, f"Superseded by v{package.version}.")
    before = _transition(package, PackageState.APPROVED)
    package.approved_at = now
    package.decided_at = now
    package.expires_at = whole_second(approval_expiry(package, now))
    package.save(update_fields=["state", "approved_at", "decided_at", "expires_at"])
    agent_before = {
        field: getattr(agent, field) for field in agent_fields_from_manifest(package.manifest)
    }
    for field, value in agent_fields_from_manifest(package.manifest).items():
        setattr(agent, field, value)
    lifted = agent.suspended_at is not None
    agent.suspended_at = None
    agent.suspended_reason = ""
    agent_approved_save(agent, [*agent_before, "suspended_at", "suspended_reason", "updated_at"])
    audit_record(
        actor=actor,
        action="package.approved",
        target=package,
        agent_slug=agent.slug,
        package_version=package.version,
        before={"state": before, "agent": agent_before},
        after={
            "state": package.state,
            "expires_at": package.expires_at.isoformat(),
            "agent": agent_fields_from_manifest(package.manifest),
        },
        data={"suspension_lifted": lifted, "carried_over": package.carried_over},
    )
    emergency_conclude(actor=actor, package=package)
    notify("package.approved", package=package)


@transaction.atomic
def signoff_decide(
    *,
    actor: Actor,
    package: ApprovalPackage,
    dimension: str,
    verdict: str,
    comment: str = "",
    answers: dict | None = None,
):
    """Record a reviewer's decision; the last needed approval approves the package.

    The package is locked first (after its agent's row, `approvals.locks`), so two
    final approvals racing each other both count and the second one sees the first.
    """
    package = package_lock(package)
    if dimension not in Dimension.values:
        raise NotFound(f"No sign-off dimension {dimension!r}.", code="unknown_dimension")
    if package.state != PackageState.IN_REVIEW:
        raise InvalidTransition(
            f"The package is {package.get_state_display().lower()}, not in review.",
            code="not_in_review",
        )
    if actor.user is None:
        raise NotPermitted("Only people decide sign-offs.", code="not_reviewer")
    # Before anything is written: the re-opening below takes the audit chain's lock, which a
    # change of the decider's rights waits for while holding their row, and a change of an
    # absence they cover while holding the absence's.
    decider = actor_user_lock(actor=actor)
    delegations_lock(decider, dimension)
    # Nothing carries over from a lapsed approval, whether the expiry job marked it yet or not.
    carried_signoffs_reopen(actor=actor, package=package)
    signoff = (
        package.signoffs.select_for_update(no_key=True, of=("self",))
        .select_related("checklist")
        .get(dimension=dimension)
    )
    signoff.package = package
    standing = decision_standing(decider, signoff)
    if not standing:
        raise NotPermitted(standing.check.message, code=standing.check.code)
    if signoff.state != SignOffState.PENDING:
        raise InvalidTransition("This sign-off is already decided.", code="signoff_closed")
    actor.require_fresh_authentication()
    decision = decision_record(
        actor=actor,
        signoff=signoff,
        verdict=verdict,
        comment=comment,
        answers=answers or {},
        basis=standing.basis,
        on_behalf_of=standing.on_behalf_of,
    )
    notify(
        "decision.made",
        package=package,
        decision=decision,
        data={
            "dimension": signoff.dimension,
            "reviewer": actor.user.get_username(),
            "on_behalf_of": decision_on_behalf_of(decision),
            "verdict": verdict,
            "comment": comment,
        },
    )
    states = set(package.signoffs.values_list("state", flat=True))
    now = timezone.now()
    if SignOffState.REJECTED in states:
        _decide(actor, package, PackageState.REJECTED, now, comment)
    elif SignOffState.CHANGES_REQUESTED in states:
        _decide(actor, package, PackageState.CHANGES_REQUESTED, now, comment)
        notify("package.changes_requested", package=package)
    elif states <= {SignOffState.APPROVED, SignOffState.CARRIED_OVER}:
        _approve(actor, package, now)
    agent_refresh_status(agent=package.agent)
    return decision


def _decide(actor, package, target: PackageState, now, reason: str) -> None:
    package.decided_at = now
    package.save(update_fields=["decided_at"])
    _close(actor, package, target, reason)


@transaction.atomic
def package_expire(*, actor: Actor, package: ApprovalPackage) -> bool:
    """Mark an approval past its expiry as expired and re-open what reviews in progress carry
    over from it; return whether anything changed."""
    package = package_lock(package)
    if package.state != PackageState.APPROVED or package.expires_at > timezone.now():
        return False
    _close(actor, package, PackageState.EXPIRED, "Approval reached its re-certification date.")
    notify("approval.expired", package=package)
    reviews = package.agent.packages.select_for_update(no_key=True).filter(
        state=PackageState.IN_REVIEW, base=package
    )
    for pending in reviews:
        pending.agent, pending.base = package.agent, package
        carried_signoffs_reopen(actor=actor, package=pending)
    agent_refresh_status(agent=package.agent)
    return True


@transaction.atomic
def agent_suspend(*, actor: Actor, agent: Agent, reason: str) -> Agent:
    """Pull the kill switch: the gate denies from the next check, the approval is revoked."""
    agent = Agent.objects.select_for_update(no_key=True).get(pk=agent.pk)
    if not actor.is_system:
        # Before anything is written, as a sign-off's decider is locked (approvals.locks):
        # a withdrawal of the rights to suspend either commits first and is read here, or
        # waits for this suspension's commit.
        check = can_suspend(actor_user_lock(actor=actor), agent)
        if not check:
            raise NotPermitted(check.message, code=check.code)
        actor.require_fresh_authentication()
    reason = reason_checked(reason)
    refuse_retired(agent)
    if agent.suspended_at is not None:
        raise InvalidTransition("The agent is already suspended.", code="already_suspended")
    agent.suspended_at = timezone.now()
    agent.suspended_reason = reason
    agent.save(update_fields=["suspended_at", "suspended_reason", "updated_at"])
    approved = (
        agent.packages.select_for_update(no_key=True).filter(state=PackageState.APPROVED).first()
    )
    if approved is not None:
        approved.agent = agent
        _close(actor, approved, PackageState.REVOKED, f"Agent suspended: {agent.suspended_reason}")
    # Lifting a suspension needs a fresh approval: a review carrying sign-offs over from
    # the revoked approval would lift it on decisions that no longer stand, and a review
    # in full on decisions made before the suspension.
    carried = "Agent suspended: the sign-offs this review carried over no longer stand."
    for pending in agent.packages.select_for_update(no_key=True).filter(
        state=PackageState.IN_REVIEW
    ):
        pending.agent = agent
        if pending.review_plan.get("carried_over"):
            _close(actor, pending, PackageState.REVOKED, carried)
        else:
            decided_signoffs_reopen(actor=actor, package=pending, at=agent.suspended_at)
    audit_record(
        actor=actor,
        action="agent.suspended",
        target=agent,
        agent_slug=agent.slug,
        package_version=approved.version if approved else None,
        after={"status": AgentStatus.SUSPENDED, "reason": agent.suspended_reason},
    )
    notify(
        "agent.suspended",
        agent=agent,
        package=approved,
        kill_switch_webhook=kill_switch_webhook(agent),
    )
    agent_refresh_status(agent=agent)
    return agent


def agent_refresh_status(*, agent: Agent) -> None:
    """Store the agent's lifecycle status and tier as its packages and kill switch leave them."""
    packages = agent.packages.order_by("-version").only("state", "risk_tier", "expires_at")
    status, tier = agent_status(agent, packages)
    if (agent.status, agent.risk_tier) != (status, tier):
        Agent.objects.filter(pk=agent.pk).update(status=status, risk_tier=tier)
        agent.status, agent.risk_tier = status, tier
