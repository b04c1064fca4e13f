"""The evidence bundle of one package version: what was approved, by whom, and the chain proving it.

This module gathers the package's records (approvals and signoffs) and writes
its summary page; the signed ZIP, its MANIFEST and the chain segment come from
`audit.evidence`, which knows nothing of packages. `approvals.api.evidence`
serves the bundle.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max, Min, Prefetch
from django.template.loader import render_to_string

from agents.vocabulary import RiskTier
from approvals.comments import package_comments
from approvals.eligibility import eligibility_of
from approvals.manifest import DIFF_GROUPS, change_named, diff_manifests
from approvals.models import ApprovalPackage, EmergencyApproval, EmergencyState, PackageState
from audit import signing
from audit.actors import Actor
from audit.chain import format_time
from audit.evidence import bundle_write, dumps, segment_covering
from audit.models import AuditEvent
from config.errors import NotFound
from signoffs.models import Decision, Dimension, SignOff, SignOffState, Verdict
from signoffs.services import decision_authentication, decision_on_behalf_of


def _time(value) -> str | None:
    return format_time(value) if value is not None else None


def previous_approved(package: ApprovalPackage) -> ApprovalPackage | None:
    """Return the newest earlier version of the agent that was ever approved."""
    return (
        ApprovalPackage.objects.filter(
            agent=package.agent, version__lt=package.version, approved_at__isnull=False
        )
        .order_by("-version")
        .first()
    )


def _decision(decision: Decision, items: dict) -> dict:
    return {
        "id": decision.pk,
        "reviewer": decision.reviewer.get_username(),
        "on_behalf_of": decision_on_behalf_of(decision) or None,
        "verdict": decision.verdict,
        "comment": decision.comment,
        "created_at": _time(decision.created_at),
        # A suspension after the decision set it aside: it is in the record, and counts no more.
        "set_aside_at": _time(decision.set_aside_at),
        "authentication": decision_authentication(decision),
        "answers": decision.answers,
        "answered_items": [
            {
                "code": code,
                "answer": answer,
                "text": items[code]["text"] if code in items else "",
                "controls": items[code]["controls"] if code in items else [],
            }
            for code, answer in sorted(decision.answers.items())
        ],
    }


def _signoff(signoff: SignOff) -> dict:
    checklist = signoff.checklist
    items = {
        item.code: {
            "code": item.code,
            "text": item.text,
            "controls": item.controls,
            "required": item.required,
            "covers": item.covers,
        }
        for item in checklist.items.all()
    }
    source = signoff.carried_over_from
    return {
        "dimension": signoff.dimension,
        "state": signoff.state,
        "required_approvals": signoff.required_approvals,
        "required_items": [
            item.code for item in checklist.items.all() if signoff.item_required(item)
        ],
        "review_reason": signoff.review_reason,
        "checklist": {
            "dimension": checklist.dimension,
            "version": checklist.version,
            "title": checklist.title,
            "items": list(items.values()),
        },
        "decisions": [_decision(d, items) for d in signoff.decisions.all()],
        "carried_over_from": None
        if source is None
        else {
            "package_version": source.package.version,
            "state": source.state,
            "decisions": [_decision(d, items) for d in source.decisions.all()],
        },
    }


def _comment(comment) -> dict:
    """Return a comment as the bundle keeps it; the verifier holds it to its audit event."""
    return {
        "id": comment.pk,
        "author": comment.author.get_username(),
        "body": comment.body,
        "entry": {"kind": comment.entry_kind, "identifier": comment.entry_identifier}
        if comment.entry_kind
        else None,
        "parent": comment.parent_id,
        "decision": comment.decision_id,
        "mentions": [user.get_username() for user in comment.mentions.all()],
        "created_at": _time(comment.created_at),
    }


def _name(user) -> str | None:
    return user.get_username() if user is not None else None


def _emergency(package: ApprovalPackage) -> dict | None:
    """Return the package's emergency approval, if one was asked for: who, why, its time box."""
    emergency = (
        EmergencyApproval.objects.filter(package=package)
        .select_related("requested_by", "security_approver", "pam_approver")
        .first()
    )
    if emergency is None:
        return None
    return {
        "state": emergency.state,
        "reason": emergency.reason,
        "requested_by": _name(emergency.requested_by),
        "requested_at": _time(emergency.requested_at),
        "security_approver": _name(emergency.security_approver),
        "security_approved_at": _time(emergency.security_approved_at),
        "pam_approver": _name(emergency.pam_approver),
        "pam_approved_at": _time(emergency.pam_approved_at),
        "granted_at": _time(emergency.granted_at),
        "ends_at": _time(emergency.ends_at),
        "closed_at": _time(emergency.closed_at),
        "state_reason": emergency.state_reason,
    }


def _package(package: ApprovalPackage) -> dict:
    agent = package.agent
    return {
        "agent": {
            "slug": agent.slug,
            "name": agent.name,
            "team": agent.team.slug if agent.team_id else "",
            "deployment": agent.deployment,
            "workload_id": agent.workload_id,
            "log_principal": agent.log_principal,
            "owners": sorted(owner.get_username() for owner in agent.owners.all()),
            "retired_at": _time(agent.retired_at),
            "retired_reason": agent.retired_reason,
        },
        "package": {
            "version": package.version,
            "state": package.state,
            "digest": package.digest,
            "risk_tier": package.risk_tier,
            "is_recertification": package.is_recertification,
            "carried_over": package.carried_over,
            "review_plan": package.review_plan,
            "base_version": package.base.version if package.base_id else None,
            "created_by": package.created_by.get_username(),
            "created_at": _time(package.created_at),
            "submitted_by": package.submitted_by.get_username() if package.submitted_by else None,
            "submitted_at": _time(package.submitted_at),
            "decided_at": _time(package.decided_at),
            "approved_at": _time(package.approved_at),
            "expires_at": _time(package.expires_at),
            "closed_at": _time(package.closed_at),
            "state_reason": package.state_reason,
        },
        "emergency": _emergency(package),
    }


def _event_range(package: ApprovalPackage, versions: set[int]) -> tuple[int, int]:
    """Return the seqs of the first and last events of the versions' lives."""
    events = AuditEvent.objects.filter(agent_slug=package.agent.slug, package_version__in=versions)
    bounds = events.aggregate(first=Min("seq"), last=Max("seq"))
    if bounds["first"] is None:
        raise NotFound("This package has no audit events.", code="no_audit_events")
    return bounds["first"], bounds["last"]


@contextmanager
def _snapshot():
    """Read inside one snapshot of the database: a read-only REPEATABLE READ transaction.

    Inside a transaction already, that transaction's isolation stands: PostgreSQL
    sets the level only before a transaction's first statement.
    """
    outermost = transaction.get_autocommit()
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


@dataclass(frozen=True)
class _Records:
    """What a bundle says of a package, read in one snapshot, and where its events lie."""

    package: ApprovalPackage
    first_seq: int
    last_seq: int
    record: dict
    diff: dict
    signoffs: list
    eligibility: dict
    comments: list


def _records(package: ApprovalPackage) -> _Records:
    """Return the package's records for its bundle and the seqs of its versions' events."""
    package = (
        ApprovalPackage.objects.select_related("agent__team", "base", "created_by", "submitted_by")
        .prefetch_related(
            "agent__owners",
            Prefetch(
                "signoffs",
                queryset=SignOff.objects.select_related(
                    "checklist", "carried_over_from__package"
                ).prefetch_related(
                    "checklist__items",
                    "decisions__reviewer",
                    "decisions__on_behalf_of",
                    "carried_over_from__decisions__reviewer",
                    "carried_over_from__decisions__on_behalf_of",
                ),
            ),
        )
        .get(pk=package.pk)
    )
    signoffs = [_signoff(signoff) for signoff in package.signoffs.all()]
    versions = {package.version} | {
        s["carried_over_from"]["package_version"] for s in signoffs if s["carried_over_from"]
    }
    first_seq, last_seq = _event_range(package, versions)
    previous = previous_approved(package)
    decision_ids = [
        decision["id"]
        for signoff in signoffs
        for decision in [
            *signoff["decisions"],
            *(signoff["carried_over_from"] or {}).get("decisions", []),
        ]
    ]
    return _Records(
        package=package,
        first_seq=first_seq,
        last_seq=last_seq,
        record=_package(package),
        diff={
            "base_version": previous.version if previous else None,
            "diff": diff_manifests(
                previous.manifest if previous else None, package.manifest
            ).as_dict(),
        },
        signoffs=signoffs,
        eligibility=eligibility_of(
            Decision.objects.filter(pk__in=decision_ids)
            .select_related("signoff__package__agent", "reviewer")
            .order_by("pk"),
            emergency=EmergencyApproval.objects.filter(package=package)
            .select_related("agent", "package__agent", "security_approver", "pam_approver")
            .first(),
        ),
        comments=[_comment(comment) for comment in package_comments(package)],
    )


def package_evidence(*, actor: Actor, package: ApprovalPackage):
    """Build the signed evidence bundle of a package version; return (filename, file).

    The package's records and the seqs of its events are read in one snapshot, so a
    decision committed meanwhile is in both the bundle's records and its events, or
    in neither. The events are read afterwards by seq: appenders commit in seq order
    (`audit.services.lock_chain`), so every event up to the last one the snapshot saw
    had committed, and none changes once written. Signing a checkpoint writes, so it
    comes after the snapshot.
    """
    with _snapshot():
        records = _records(package)
    package, first_seq, last_seq = records.package, records.first_seq, records.last_seq
    segment, checkpoints = segment_covering(first_seq, last_seq, actor=actor)
    record, diff, signoffs = records.record, records.diff, records.signoffs
    summary = summary_html(
        record, diff, signoffs, segment, checkpoints, records.eligibility, records.comments
    )
    files = [
        ("package.json", dumps(record)),
        ("manifest.json", dumps(package.manifest)),
        ("diff.json", dumps(diff)),
        ("signoffs.json", dumps(signoffs)),
        ("eligibility.json", dumps(records.eligibility)),
        ("comments.json", dumps(records.comments)),
        ("summary.html", summary.encode()),
    ]
    subject = {
        "kind": "approval_package",
        "agent": package.agent.slug,
        "version": package.version,
        "digest": package.digest,
        "event_seqs": [first_seq, last_seq],
    }
    events = AuditEvent.objects.filter(
        agent_slug=package.agent.slug, seq__gte=first_seq, seq__lte=last_seq
    )
    bundle = bundle_write(
        files, subject=subject, events=events, segment=segment, checkpoints=checkpoints
    )
    return f"evidence-{package.agent.slug}-v{package.version}.zip", bundle


def summary_html(
    record: dict,
    diff: dict,
    signoffs: list,
    segment,
    checkpoints: list,
    eligibility: dict,
    comments: list = (),
) -> str:
    """Return the human-readable summary an auditor opens first."""
    eligible = {row["decision"]: row for row in eligibility["decisions"]}
    rows = []
    for signoff in signoffs:
        carried = signoff["carried_over_from"]
        decisions = list(signoff["decisions"]) + (carried["decisions"] if carried else [])
        for decision in decisions or [None]:
            controls = sorted(
                {c for item in (decision or {}).get("answered_items", []) for c in item["controls"]}
            )
            # Values in words, with the labels the pages use.
            rows.append(
                {
                    "dimension": Dimension(signoff["dimension"]).label,
                    "state": SignOffState(signoff["state"]).label,
                    "verdict": Verdict(decision["verdict"]).label if decision else "",
                    "carried_from": carried["package_version"] if carried else None,
                    "decision": decision,
                    "controls": controls,
                    "eligibility": eligible.get(decision["id"]) if decision else None,
                }
            )
    context = {
        "agent": record["agent"],
        "package": record["package"],
        "state": PackageState(record["package"]["state"]).label,
        "emergency": record["emergency"],
        "emergency_state": EmergencyState(record["emergency"]["state"]).label
        if record["emergency"]
        else "",
        "risk_tier": RiskTier(record["package"]["risk_tier"]).label,
        "signoff_rows": rows,
        # Why each sign-off re-opened or carried over; a first version has nothing to say.
        "review_reasons": [
            (Dimension(signoff["dimension"]).label, signoff["review_reason"])
            for signoff in signoffs
            if signoff["review_reason"] and record["package"]["base_version"] is not None
        ],
        "changes": [
            change_named(change) for group, _ in DIFF_GROUPS for change in diff["diff"][group]
        ],
        "base_version": diff["base_version"],
        "segment": segment,
        "checkpoints": checkpoints,
        "fingerprint": signing.fingerprint(),
        "eligibility_rule": eligibility["rule"],
        "emergency_eligibility": eligibility.get("emergency_approvals", []),
        "emergency_rule": eligibility.get("emergency_rule", ""),
        "comments": comments,
    }
    return render_to_string("evidence/summary.html", context)
