"""Drift findings the runtime decision point raises: claims beyond an approved entry.

The drift run compares what agents used with their approved scope, entry by
entry and access by access; a use of an approved entry at its access, whose
claims (chain depth, credential lifetime, a flag of the entry) went beyond
what was approved, is in scope for it. The decision point denies such a use
and counts it apart; the usage flush brings those counts here.
"""

from datetime import datetime

from django.db.models import F, Value
from django.db.models.functions import Greatest

from agents.models import Agent
from approvals.drift import CLAIM_EXCEEDED, findings_record
from approvals.models import LIVE_FINDING_STATUSES, DriftFinding, Severity
from approvals.selectors import package_in_force
from audit.actors import Actor


def claim_findings_record(*, actor: Actor, agent: Agent, uses: list[dict]) -> list[dict]:
    """Count runtime denies of approved entries that only a claim caused; return those opened.

    `uses` are {kind, identifier, access, count, seen_at} of evaluations the decision
    point denied because a claim (chain depth, credential lifetime, a flag of the
    entry) went beyond the approved scope while the entry at that access is approved.
    Each adds to the use's live finding, or opens one (`claim_exceeded`, high); the
    drift run never resolves these as covered (the entry is), a reviewer does. Runs
    in the caller's transaction.
    """
    package = package_in_force(agent)
    opened = []
    for use in uses:
        seen = datetime.fromisoformat(use["seen_at"])
        key = {"kind": use["kind"], "identifier": use["identifier"], "access": use["access"]}
        live = agent.drift_findings.select_for_update(no_key=True).filter(
            status__in=LIVE_FINDING_STATUSES, **key
        )
        finding = live.first()
        if finding is not None:
            live.filter(pk=finding.pk).update(
                count=F("count") + use["count"], last_seen=Greatest("last_seen", Value(seen))
            )
            continue
        finding = DriftFinding.objects.create(
            agent=agent,
            package=package,
            reason=CLAIM_EXCEEDED,
            severity=Severity.HIGH,
            count=use["count"],
            first_seen=seen,
            last_seen=seen,
            **key,
        )
        opened.append(
            {"id": finding.pk, "agent": agent.slug, **key}
            | {"reason": CLAIM_EXCEEDED, "severity": Severity.HIGH.value}
        )
    if opened:
        findings_record(actor=actor, agent_ids=[agent.pk, agent.pk], opened=opened, closed=[])
    return opened
