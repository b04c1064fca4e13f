"""A customer-facing agent is at least high tier until its enforcement point is seen asking.

The fact (decisions from the decision point within ENFORCEMENT_PROVEN_DAYS) is an
input of the risk rating at creation, at every draft edit and again at submission
(a re-certification is created and submitted, so it is rated the same way).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.observations import observations_record
from approvals.manifest import Enforcement, compute_risk_tier, risk_tier_reasons
from approvals.services import package_submit
from audit.actors import Actor
from tests.factories import AgentFactory, manifest_for

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")
REASON = (
    "The agent is customer-facing and no runtime decisions were seen from its enforcement "
    "point in the last 14 days."
)


@pytest.fixture
def read_only(agent):
    """The read-only copilot's scope on the customer-facing agent: medium on its manifest."""
    return manifest_for(agent, "hr-copilot.yaml")


def decided(agent, days_ago=0):
    seen = (timezone.now() - timedelta(days=days_ago)).isoformat()
    item = {"kind": "tool", "identifier": "policy-search", "access": "read", "seen_at": seen}
    observations_record(actor=SYSTEM, agent=agent, items=[item], decisions=True)


def test_the_rule_is_pure_and_one_place(read_only):
    assert compute_risk_tier(read_only) == "medium"
    assert compute_risk_tier(read_only, Enforcement(True, 14)) == "medium"
    assert compute_risk_tier(read_only, Enforcement(False, 14)) == "high"
    assert risk_tier_reasons(read_only, Enforcement(False, 14)) == [REASON]
    internal = {**read_only, "deployment": "internal_copilot"}
    assert compute_risk_tier(internal, Enforcement(False, 14)) == "low"


def test_an_unproven_customer_facing_agent_is_high(workflow, agent, read_only):
    package = workflow.create(agent, read_only)
    assert package.risk_tier == "high"
    assert (package.enforcement_proven, package.enforcement_days) == (False, 14)
    assert risk_tier_reasons(package.manifest, package.enforcement) == [REASON]


def test_decisions_seen_lately_prove_it_and_submission_rates_again(workflow, owner):
    agent = AgentFactory(owners=[owner])
    package = workflow.create(agent, manifest_for(agent, "hr-copilot.yaml"))
    assert package.risk_tier == "high"
    decided(agent, days_ago=13)
    package = package_submit(actor=Actor.for_user(owner), package=package)
    package.refresh_from_db()
    assert (package.risk_tier, package.enforcement_proven) == ("medium", True)
    assert REASON not in risk_tier_reasons(package.manifest, package.enforcement)


def test_reported_uses_and_old_decisions_prove_nothing(workflow, owner, agent, read_only, settings):
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "ENFORCEMENT_PROVEN_DAYS": 3}
    decided(agent, days_ago=5)
    seen = {"kind": "tool", "identifier": "policy-search", "access": "read"}
    observations_record(actor=Actor.for_user(owner), agent=agent, items=[seen])
    package = workflow.create(agent, read_only)
    assert (package.risk_tier, package.enforcement_proven, package.enforcement_days) == (
        "high",
        False,
        3,
    )
    assert "in the last 3 days" in risk_tier_reasons(package.manifest, package.enforcement)[0]
