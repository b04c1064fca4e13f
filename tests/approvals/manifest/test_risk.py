"""Rating a manifest's scope: the risk tier and the reasons for it."""

import pytest

from agents.vocabulary import RiskTier, ranks
from approvals import manifest as m
from tests.approvals.manifest.helpers import entry, with_change, with_entries


def test_support_agent_is_critical(support):
    assert support["risk_tier"] == "high"  # declared lower than computed: never lowers it
    assert m.compute_risk_tier(support) == "critical"
    reasons = " ".join(m.risk_tier_reasons(support))
    assert "privileged" in reasons
    assert "third party boundary" in reasons and "third_party" not in reasons


def test_hr_copilot_is_low(hr):
    assert m.compute_risk_tier(hr) == "low"
    assert m.risk_tier_reasons(hr) == [
        "Every entry is read-only, stays inside the internal boundary and touches no "
        "confidential or restricted data, and the agent is an internal copilot."
    ]


RISK_CASES = [
    # (scope kind, entry fields incl. optional "id" and the manifest's "deployment", tier)
    ("tools", {}, "low"),
    ("datasets", {"classification": "public"}, "low"),
    ("actions", {"id": "refund.lookup"}, "low"),
    ("tools", {"access": "write"}, "medium"),
    ("datasets", {"classification": "confidential"}, "medium"),
    ("tools", {"deployment": "customer_facing"}, "medium"),
    ("tools", {"id": "payment-sdk", "access": "write"}, "medium"),
    ("tools", {"access": "write", "deployment": "customer_facing"}, "high"),
    ("tools", {"trust_boundary": "external"}, "high"),
    ("external_apis", {"trust_boundary": "third_party"}, "high"),
    ("datasets", {"classification": "restricted"}, "high"),
    ("tools", {"access": "execute"}, "high"),
    ("tools", {"privileged": True}, "critical"),
    ("tools", {"access": "admin"}, "critical"),
    ("tools", {"deployment": "regulated_workflow"}, "critical"),
    ("tools", {"access": "write", "trust_boundary": "external"}, "critical"),
    ("external_apis", {"access": "execute", "trust_boundary": "third_party"}, "critical"),
    ("actions", {"id": "payout.send", "access": "execute"}, "critical"),
    ("endpoints", {"id": "https://x.internal/refunds", "access": "write"}, "critical"),
    ("actions", {"access": "write", "constraints": {"max_transfer_eur": 5}}, "critical"),
]


@pytest.mark.parametrize(("kind_key", "fields", "expected"), RISK_CASES)
def test_computed_risk_tiers(hr, kind_key, fields, expected):
    fields = dict(fields)
    deployment = fields.pop("deployment", "internal_copilot")
    doc = with_entries(hr, kind_key, entry(kind_key, fields.pop("id", "thing"), **fields))
    doc["deployment"] = deployment
    assert m.compute_risk_tier(doc) == expected
    assert m.risk_tier_reasons(doc)


def test_chaining_and_break_glass_raise_the_tier(hr):
    chained = with_change(hr, "chaining", {"allowed": True, "max_depth": 2})
    assert m.compute_risk_tier(chained) == "high"
    assert "max depth 2" in " ".join(m.risk_tier_reasons(chained))
    glass = with_change(hr, "emergency_access", {"break_glass": True, "procedure": "Call PAM."})
    assert m.compute_risk_tier(glass) == "critical"


@pytest.mark.parametrize("declared", RiskTier.values)
def test_declared_tier_raises_but_never_lowers(hr, support, declared):
    rank = ranks(RiskTier)
    assert m.compute_risk_tier(with_change(hr, "risk_tier", declared)) == declared
    raised = m.compute_risk_tier(with_change(support, "risk_tier", declared))
    assert raised == "critical"
    assert rank[raised] >= rank[declared]


def test_reasons_mention_a_declared_raise(hr):
    reasons = m.risk_tier_reasons(with_change(hr, "risk_tier", "high"))
    assert reasons[-1] == "The declared risk tier high raises the computed tier low."
