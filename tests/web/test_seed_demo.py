"""The demo data gives every screen something real, and loading it twice changes nothing."""

import pytest
from django.contrib.auth import get_user_model

from agents.models import Agent, AgentStatus, Team
from approvals.models import LIVE_FINDING_STATUSES, DriftFinding
from audit.models import AuditEvent
from audit.verify import audit_verify
from web.demo import DEMO_USERS, seed_demo

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_agents_in_each_state_and_is_idempotent(checklists):
    created = seed_demo()
    assert len(created) == 6
    statuses = set(Agent.objects.values_list("status", flat=True))
    assert {
        AgentStatus.APPROVED,
        AgentStatus.IN_REVIEW,
        AgentStatus.CHANGES_REQUESTED,
        AgentStatus.SUSPENDED,
        AgentStatus.NEW,
    } <= statuses
    assert get_user_model().objects.filter(username__in=DEMO_USERS).count() == len(DEMO_USERS)
    # One live drift finding to handle on a page, not one that suspends the agent.
    findings = DriftFinding.objects.filter(status__in=LIVE_FINDING_STATUSES)
    assert [(f.agent.slug, f.identifier, f.severity) for f in findings] == [
        ("hr-policy-copilot", "payroll-history", "high")
    ]
    assert Agent.objects.get(slug="hr-policy-copilot").status == AgentStatus.APPROVED
    # Teams are administered: the owner registered only into the teams it is a member of.
    teams = {t.slug: sorted(m.username for m in t.members.all()) for t in Team.objects.all()}
    assert teams == {"customer-care": ["owner"], "people-ops": ["owner"], "finance": ["owner2"]}
    assert set(Agent.objects.values_list("team__slug", flat=True)) == {
        "customer-care",
        "people-ops",
    }
    events = AuditEvent.objects.count()
    # The trail starts vouched for: its verification needs no warning about checkpoints.
    assert audit_verify().warnings == []
    assert seed_demo() == []
    assert AuditEvent.objects.count() == events
