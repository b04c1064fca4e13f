"""Review depth follows risk: which checklist items an approval needs, by the package's tier.

The table is ``COUNTERSIGN["REVIEW_DEPTH"]`` (config/settings.py), the one place
that says, per tier, which items the light path leaves optional. The light
path applies only when the agent is read-only, privileges nothing and has no
break-glass access; high and critical packages keep every item whatever the
table says. What a package's review needs is fixed at submission
(``SignOff.required_items``), so a later change of the table does not move a
review under way.
"""

from dataclasses import dataclass, field

from django.conf import settings

from agents.vocabulary import Access, RiskTier
from approvals.manifest import normalize_manifest
from approvals.manifest.scope import KIND_LABELS, scope_entries
from signoffs.models import Checklist

LIGHT, FULL = "light", "full"
# These tiers keep every item: the table cannot lighten them.
FULL_REVIEW_TIERS = frozenset({RiskTier.HIGH, RiskTier.CRITICAL})


@dataclass(frozen=True)
class Depth:
    """The review depth a package gets: its rule, why, and the items it leaves optional."""

    tier: str
    rule: str
    explanation: str
    optional: dict[str, frozenset[str]] = field(default_factory=dict)

    def required_items(self, checklist: Checklist) -> list[str]:
        """Return the codes of the checklist's items an approval must tick."""
        waived = self.optional.get(checklist.dimension, frozenset())
        return [
            item.code for item in checklist.items.all() if item.required and item.code not in waived
        ]

    def as_dict(self) -> dict:
        """Return the depth as recorded with the package and in its evidence."""
        return {
            "tier": self.tier,
            "rule": self.rule,
            "explanation": self.explanation,
            "optional_items": {dim: sorted(codes) for dim, codes in sorted(self.optional.items())},
        }


def depth_table() -> dict[str, dict[str, list[str]]]:
    """Return the configured items each tier's light path leaves optional, by dimension."""
    return settings.COUNTERSIGN["REVIEW_DEPTH"]


def _light_path_blockers(doc: dict) -> list[str]:
    """Return what keeps a manifest off the light path: writes, privilege, break-glass."""
    blockers = []
    for kind, entry in scope_entries(doc):
        name = f"{KIND_LABELS[kind]} {entry['id']}"
        if entry["privileged"]:
            blockers.append(f"{name} is privileged")
        elif entry["access"] != Access.READ:
            blockers.append(f"{name} has {Access(entry['access']).label.lower()} access")
    if doc["emergency_access"]["break_glass"]:
        blockers.append("break-glass access is enabled")
    return blockers


def review_depth(*, tier: str, manifest: dict) -> Depth:
    """Return the review depth of a package of this tier and manifest."""
    label = RiskTier(tier).label.lower()
    optional = {
        dim: frozenset(codes) for dim, codes in depth_table().get(tier, {}).items() if codes
    }
    if tier in FULL_REVIEW_TIERS or not optional:
        return Depth(tier, FULL, f"A {label}-risk agent is reviewed against every required item.")
    blockers = _light_path_blockers(normalize_manifest(manifest))
    if blockers:
        return Depth(
            tier,
            FULL,
            f"A {label}-risk agent gets the light path only when it is read-only with no "
            f"privileged pathway; here {', '.join(blockers[:3])}"
            f"{' and more' if len(blockers) > 3 else ''}, so every required item stays.",
        )
    return Depth(
        tier,
        LIGHT,
        f"A {label}-risk agent that is read-only, with no privileged pathway and no "
        "break-glass access, gets the light path: PAM attests there is no privileged "
        "pathway with a shorter checklist, and items that cannot apply are optional.",
        optional,
    )
