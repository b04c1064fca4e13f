"""Rate a manifest's scope: its risk tier, and the sentences that say why."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from agents.vocabulary import (
    Access,
    Classification,
    Deployment,
    RiskTier,
    ScopeKind,
    TrustBoundary,
    ranks,
)
from approvals.manifest.canonical import canonical_json, normalize_manifest
from approvals.manifest.scope import KIND_LABELS, scope_entries

_TIER_RANK = ranks(RiskTier)
_MONEY_WORDS = re.compile(r"refund|payment|payout|transfer", re.IGNORECASE)
_LOW_REASON = (
    "Every entry is read-only, stays inside the internal boundary and touches no "
    "confidential or restricted data, and the agent is an internal copilot."
)
_WRITES = (Access.WRITE, Access.EXECUTE)


@dataclass(frozen=True)
class Enforcement:
    """A fact from the runtime: whether the decision point answered the agent's enforcement
    point in the last `days` days."""

    proven: bool
    days: int


@dataclass(frozen=True)
class _Risk:
    """A risk factor: the tier it implies, when it applies, and why (a format template)."""

    tier: RiskTier
    applies: Callable[..., bool]
    reason: str


def _moves_money(kind: str, entry: dict, doc: dict) -> bool:
    """Tell whether an action or endpoint can move money (refund, payment, payout, transfer)."""
    text = entry["id"] + canonical_json(entry["constraints"])
    return (
        kind in (ScopeKind.ACTION, ScopeKind.ENDPOINT)
        and entry["access"] in _WRITES
        and bool(_MONEY_WORDS.search(text))
    )


def _outward(entry: dict) -> bool:
    """Tell whether an entry crosses an external or third-party trust boundary."""
    return entry["trust_boundary"] != TrustBoundary.INTERNAL


_ENTRY_RISKS = (
    _Risk(RiskTier.CRITICAL, lambda k, e, d: e["privileged"], "{kind} {id} is privileged"),
    _Risk(
        RiskTier.CRITICAL,
        lambda k, e, d: e["access"] == Access.ADMIN,
        "{kind} {id} has admin access",
    ),
    _Risk(RiskTier.CRITICAL, _moves_money, "{kind} {id} can move money ({access} access)"),
    _Risk(
        RiskTier.CRITICAL,
        lambda k, e, d: _outward(e) and e["access"] != Access.READ,
        "{kind} {id} has {access} access across the {trust_boundary} boundary",
    ),
    _Risk(
        RiskTier.HIGH,
        lambda k, e, d: _outward(e),
        "{kind} {id} crosses the {trust_boundary} boundary",
    ),
    _Risk(
        RiskTier.HIGH,
        lambda k, e, d: e["classification"] == Classification.RESTRICTED,
        "{kind} {id} touches restricted data",
    ),
    _Risk(
        RiskTier.HIGH,
        lambda k, e, d: e["access"] == Access.EXECUTE,
        "{kind} {id} has execute access",
    ),
    _Risk(
        RiskTier.HIGH,
        lambda k, e, d: d["deployment"] == Deployment.CUSTOMER_FACING and e["access"] in _WRITES,
        "the customer-facing agent has {access} access to {kind} {id}",
    ),
    _Risk(
        RiskTier.MEDIUM,
        lambda k, e, d: e["access"] == Access.WRITE,
        "{kind} {id} has write access",
    ),
    _Risk(
        RiskTier.MEDIUM,
        lambda k, e, d: e["classification"] == Classification.CONFIDENTIAL,
        "{kind} {id} touches confidential data",
    ),
)
_MANIFEST_RISKS = (
    _Risk(
        RiskTier.CRITICAL,
        lambda d: d["deployment"] == Deployment.REGULATED_WORKFLOW,
        "the agent runs a regulated workflow",
    ),
    _Risk(
        RiskTier.CRITICAL,
        lambda d: d["emergency_access"]["break_glass"],
        "emergency break-glass access is enabled",
    ),
    _Risk(
        RiskTier.HIGH,
        lambda d: d["chaining"]["allowed"],
        "tool chaining is allowed (max depth {chaining[max_depth]})",
    ),
    # The guidance keeps a customer-facing agent at least high until the runtime shows
    # its approved scope is enforced at request time.
    _Risk(
        RiskTier.HIGH,
        lambda d: (
            d["deployment"] == Deployment.CUSTOMER_FACING
            and d["enforcement"] is not None
            and not d["enforcement"].proven
        ),
        "the agent is customer-facing and no runtime decisions were seen from its "
        "enforcement point in the last {enforcement.days} days",
    ),
    _Risk(
        RiskTier.MEDIUM,
        lambda d: d["deployment"] == Deployment.CUSTOMER_FACING,
        "the agent is customer-facing",
    ),
)


def _sentence(text: str) -> str:
    """Capitalize ``text`` and end it with a full stop."""
    return text[0].upper() + text[1:] + "."


def _risk_findings(doc: dict, enforcement: Enforcement | None) -> list[tuple[str, str]]:
    """Return (tier, reason) for every risk factor of a normalized manifest and the runtime's
    fact (None: not known, as for a manifest on its own)."""
    facts = {**doc, "enforcement": enforcement}
    findings = [
        (r.tier.value, _sentence(r.reason.format(**facts)))
        for r in _MANIFEST_RISKS
        if r.applies(facts)
    ]
    for kind, entry in scope_entries(doc):
        # Values in words, as the vocabulary labels them ("third party", not "third_party").
        fields = {
            **entry,
            "kind": KIND_LABELS[kind],
            "access": Access(entry["access"]).label.lower(),
            "trust_boundary": TrustBoundary(entry["trust_boundary"]).label.lower(),
        }
        findings += [
            (r.tier.value, _sentence(r.reason.format(**fields)))
            for r in _ENTRY_RISKS
            if r.applies(kind, entry, doc)
        ]
    return findings


def _highest(tiers: list[str]) -> str:
    """Return the highest of ``tiers`` (low when there are none)."""
    return max(tiers, key=_TIER_RANK.__getitem__, default=RiskTier.LOW.value)


def compute_risk_tier(doc: dict, enforcement: Enforcement | None = None) -> str:
    """Return the effective risk tier: the computed one, raised by a higher declared tier."""
    normalized = normalize_manifest(doc)
    computed = _highest([tier for tier, _ in _risk_findings(normalized, enforcement)])
    return _highest([computed, normalized["risk_tier"] or RiskTier.LOW.value])


def risk_tier_reasons(doc: dict, enforcement: Enforcement | None = None) -> list[str]:
    """Return sentences explaining the risk tier: the factors that set it, and any raise."""
    normalized = normalize_manifest(doc)
    findings = _risk_findings(normalized, enforcement)
    computed = _highest([tier for tier, _ in findings])
    reasons = [reason for tier, reason in findings if tier == computed] or [_LOW_REASON]
    declared = normalized["risk_tier"]
    if declared and _TIER_RANK[declared] > _TIER_RANK[computed]:
        declared_label, computed_label = RiskTier(declared).label, RiskTier(computed).label
        reasons.append(
            f"The declared risk tier {declared_label.lower()} raises the computed tier"
            f" {computed_label.lower()}."
        )
    return reasons
