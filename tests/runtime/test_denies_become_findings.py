"""Denied evaluations become drift findings within one drift interval.

An evaluation is counted in Redis; the usage flush (every minute) folds the
counts into observations and, when they hold a deny, evaluates drift at once;
when another drift run holds the drift lease then, the scheduled drift job
(every five minutes) finds it. The jobs run here in-process; the same path on
a real worker is tests/jobs/test_runtime_usage_flush.py.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import Observation
from approvals import tasks as approval_tasks
from approvals.drift import DRIFT_JOB, DRIFT_LEASE
from approvals.leases import lease_release, lease_take
from approvals.models import DriftFinding, EmergencyApproval
from approvals.ownership import agent_update
from audit.actors import Actor
from audit.models import AuditEvent
from runtime import tasks
from tests.approvals.emergency import emergency_grant
from tests.factories import UserFactory, manifest_for
from tests.jobs.test_runtime_usage_flush import close_minutes
from tests.runtime.conftest import ask
from tokens.models import Scope

pytestmark = pytest.mark.django_db


def findings(agent) -> set[tuple]:
    return {
        (f.kind, f.identifier, f.access, f.reason) for f in DriftFinding.objects.filter(agent=agent)
    }


def test_each_kind_of_deny_is_a_finding_after_the_flush_run(workflow, agent, approved, runtime):
    wider = manifest_for(agent)
    wider["scope"]["tools"].append(
        {"id": "refund-issue-2", "access": "write", "justification": "The incident's fix."}
    )
    emergency = emergency_grant(workflow, workflow.submit(agent, wider))
    assert ask(runtime, agent.slug, "write", "tool", "refund-issue-2").json()["decision"] is True
    EmergencyApproval.objects.filter(pk=emergency.pk).update(
        ends_at=timezone.now() - timedelta(minutes=1)
    )
    denied = [
        ("write", "tool", "refund-issue-2", "emergency_expired"),
        ("admin", "tool", "kb-search", "scope_mismatch"),
        ("execute", "tool", "shell", "scope_mismatch"),
    ]
    for action, kind, ident, reason in denied:
        answer = ask(runtime, agent.slug, action, kind, ident).json()
        assert answer["context"]["reason"] == reason
    assert not DriftFinding.objects.exists()
    close_minutes()

    run = tasks.runtime_usage_flush()
    assert run["denies"] == 3 and run["drift"]["created"] == 3
    assert findings(agent) == {
        ("tool", "refund-issue-2", "write", "unapproved_tool"),
        ("tool", "kb-search", "admin", "higher_access"),
        ("tool", "shell", "execute", "unapproved_tool"),
    }


def test_a_flush_meeting_a_drift_run_leaves_the_deny_to_the_next_drift_run(
    agent, approved, runtime
):
    assert ask(runtime, agent.slug, "execute", "tool", "shell").json()["decision"] is False
    close_minutes()
    # Another drift run holds the lease while the flush runs.
    holder = lease_take(DRIFT_JOB, DRIFT_LEASE)
    run = tasks.runtime_usage_flush()
    assert run["denies"] == 1 and run["drift"]["skipped"] is True
    assert not DriftFinding.objects.exists()
    lease_release(DRIFT_JOB, holder)
    # The scheduled drift job (every drift interval) finds it.
    assert approval_tasks.drift_evaluate()["created"] == 1
    assert findings(agent) == {("tool", "shell", "execute", "unapproved_tool")}


def test_a_claim_beyond_an_approved_entry_is_a_finding_no_drift_run_resolves(
    agent, approved, runtime
):
    answer = ask(runtime, agent.slug, "read", "tool", "kb-search", {"privileged": True}).json()
    assert answer["context"]["reason"] == "scope_mismatch"
    close_minutes()

    run = tasks.runtime_usage_flush()
    assert run["denies"] == 1
    assert findings(agent) == {("tool", "kb-search", "read", "claim_exceeded")}
    finding = DriftFinding.objects.get(agent=agent)
    assert (finding.severity, finding.status, finding.count) == ("high", "open", 1)
    assert AuditEvent.objects.filter(action="drift.evaluated", data__opened__0__id=finding.pk)

    # The entry is approved at that access: the drift run leaves the finding to a reviewer.
    approval_tasks.drift_evaluate()
    finding.refresh_from_db()
    assert finding.status == "open"
    # A later minute's claim denies count on the same finding.
    for _ in range(2):
        ask(runtime, agent.slug, "read", "tool", "kb-search", chain_depth=99)
    close_minutes()
    tasks.runtime_usage_flush()
    assert DriftFinding.objects.get(agent=agent).count == 3
    # An allowed use of the entry is not a finding.
    assert ask(runtime, agent.slug, "read", "tool", "kb-search").json()["decision"] is True


def test_only_the_agents_owners_and_its_runtime_leave_a_trace(
    agent, approved, api, owner, other_owner, reviewers, gateway, runtime
):
    strangers = [
        gateway,  # staff, owning nothing
        api(other_owner, Scope.DECISIONS_EVALUATE),
        api(reviewers["security"][0], Scope.DECISIONS_EVALUATE),
    ]
    for client in strangers:
        answer = ask(client, agent.slug, "admin", "tool", "evil").json()
        assert answer["context"]["reason"] == "scope_mismatch"  # anyone may ask, as at the gate
    close_minutes()
    run = tasks.runtime_usage_flush()
    # Their uses are none of the agent's: no observation, no finding, nothing suspended.
    assert (run["evaluations"], run["denies"]) == (3, 0) and "drift" not in run
    assert not Observation.objects.filter(agent=agent).exists()
    assert not DriftFinding.objects.exists()
    agent.refresh_from_db()
    assert not agent.is_suspended

    ask(api(owner, Scope.DECISIONS_EVALUATE), agent.slug, "execute", "tool", "shell")
    ask(runtime, agent.slug, "write", "tool", "refund-issue-2")
    close_minutes()
    run = tasks.runtime_usage_flush()
    assert run["denies"] == 2
    assert findings(agent) == {
        ("tool", "shell", "execute", "unapproved_tool"),
        ("tool", "refund-issue-2", "write", "unapproved_tool"),
    }


def test_a_bound_token_leaves_a_trace_only_while_its_user_could_bind_it(
    agent, approved, api, owner
):
    former = UserFactory(username="former-owner", groups=["product-owner"])
    agent.owners.add(former)
    bound_before = api(former, Scope.DECISIONS_EVALUATE, agents=[agent])
    agent_update(actor=Actor.for_user(owner), agent=agent, owners=[owner])
    # A service account an administrator bound, before it is one of the agent's owners.
    service = UserFactory(username="runtime-support", password=None)
    service_runtime = api(service, Scope.DECISIONS_EVALUATE, agents=[agent])
    for client in (bound_before, service_runtime):
        answer = ask(client, agent.slug, "admin", "tool", "evil").json()
        assert answer["context"]["reason"] == "scope_mismatch"  # answered, as anyone is
    close_minutes()
    run = tasks.runtime_usage_flush()
    assert (run["evaluations"], run["denies"]) == (2, 0) and "drift" not in run
    assert not Observation.objects.filter(agent=agent).exists()
    assert not DriftFinding.objects.exists()

    agent.owners.add(service)
    ask(service_runtime, agent.slug, "execute", "tool", "shell")
    close_minutes()
    assert tasks.runtime_usage_flush()["denies"] == 1
    assert findings(agent) == {("tool", "shell", "execute", "unapproved_tool")}
