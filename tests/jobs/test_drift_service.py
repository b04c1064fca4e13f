"""Drift evaluation as a service: set-based, idempotent, severity, resolution, suspension."""

import copy

import pytest
from django.conf import settings
from django.test import override_settings

from agents.models import Deployment, Observation
from agents.observations import observations_record
from approvals.drift import drift_evaluate
from approvals.findings import finding_acknowledge, finding_resolve
from approvals.gate import gate_check
from approvals.models import (
    FINDING_TEXT_MAX_LENGTH,
    DriftFinding,
    FindingStatus,
    PackageState,
)
from approvals.ownership import agent_update
from approvals.services import package_create, package_submit
from audit.actors import Actor
from config.errors import InvalidInput, NotPermitted
from signoffs.models import Dimension
from tests.concurrency import raced
from tests.factories import AgentFactory, DriftFindingFactory, UserFactory, manifest_for

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


def _observe(agent, *items, times=1):
    for _ in range(times):
        observations_record(actor=SYSTEM, agent=agent, items=list(items))


@override_settings(COUNTERSIGN={**settings.COUNTERSIGN, "SUSPEND_ON_CRITICAL_DRIFT": False})
def test_uses_outside_the_scope_open_one_finding_each(workflow, agent, audit_since):
    package = workflow.approve(agent)
    _observe(
        agent,
        {"kind": "tool", "identifier": "kb-search", "access": "read"},  # approved
        {"kind": "tool", "identifier": "shell", "access": "execute"},  # unapproved
        {"kind": "dataset", "identifier": "crm.customers", "access": "write"},  # higher access
        {"kind": "external_api", "identifier": "https://evil.example.com", "access": "write"},
        {"kind": "model", "identifier": "other-model"},
        times=3,
    )
    since = audit_since()
    run = drift_evaluate(actor=SYSTEM)
    assert run.created == 4 and run.batches == 1
    findings = {(f.kind, f.identifier): f for f in DriftFinding.objects.filter(agent=agent)}
    assert set(findings) == {
        ("tool", "shell"),
        ("dataset", "crm.customers"),
        ("external_api", "https://evil.example.com"),
        ("model", "other-model"),
    }
    assert findings[("tool", "shell")].reason == "unapproved_tool"
    assert findings[("tool", "shell")].count == 3
    assert findings[("dataset", "crm.customers")].reason == "higher_access"
    assert findings[("external_api", "https://evil.example.com")].severity == "critical"
    assert findings[("model", "other-model")].reason == "model_changed"
    assert all(f.package_id == package.pk for f in findings.values())
    assert [e.action for e in since()] == ["drift.evaluated"]

    # Again, and after more of the same uses: no new finding, counts follow.
    assert drift_evaluate(actor=SYSTEM).created == 0
    _observe(agent, {"kind": "tool", "identifier": "shell", "access": "execute"})
    second = audit_since()
    assert drift_evaluate(actor=SYSTEM).created == 0
    assert DriftFinding.objects.filter(agent=agent).count() == 4
    assert DriftFinding.objects.get(agent=agent, identifier="shell").count == 4
    assert second() == []


def test_open_critical_finding_denies_and_suspends_critical_agents(workflow, agent, audit_since):
    workflow.approve(agent)
    _observe(
        agent, {"kind": "endpoint", "identifier": "https://admin.example.com", "access": "admin"}
    )
    agent.refresh_from_db()
    assert agent.risk_tier == "critical"
    since = audit_since()
    run = drift_evaluate(actor=SYSTEM)
    assert run.suspended == [agent.pk]
    events = since()
    assert [e.action for e in events] == ["drift.evaluated", "package.revoked", "agent.suspended"]
    assert {e.actor_label for e in events} == {"tests"}
    assert drift_evaluate(actor=SYSTEM).suspended == []
    agent.refresh_from_db()
    assert agent.is_suspended
    result = gate_check(actor=SYSTEM, agent_slug=agent.slug, digest="x")
    codes = {reason["code"] for reason in result.reasons}
    assert result.decision == "deny" and {"open_critical_drift", "agent_suspended"} <= codes


def test_lower_tier_agent_is_not_suspended_by_default(workflow, owner):
    copilot = AgentFactory(owners=[owner], deployment=Deployment.INTERNAL_COPILOT)
    workflow.approve(copilot, manifest_for(copilot, "hr-copilot.yaml"))
    _observe(copilot, {"kind": "tool", "identifier": "shell", "access": "admin"})
    copilot.refresh_from_db()
    assert copilot.risk_tier == "low"
    run = drift_evaluate(actor=SYSTEM)
    assert run.created == 1 and run.suspended == []
    copilot.refresh_from_db()
    assert not copilot.is_suspended
    assert DriftFinding.objects.get(agent=copilot).severity == "critical"
    result = gate_check(actor=SYSTEM, agent_slug=copilot.slug, digest="x")
    assert "open_critical_drift" in {reason["code"] for reason in result.reasons}


def test_acknowledge_resolve_and_a_later_use_reopens(workflow, agent, reviewers, owner):
    workflow.approve(agent)
    _observe(agent, {"kind": "tool", "identifier": "shell", "access": "execute"})
    drift_evaluate(actor=SYSTEM)
    finding = DriftFinding.objects.get(agent=agent)
    with pytest.raises(NotPermitted):
        finding_acknowledge(actor=Actor.for_user(owner), finding=finding)
    security = Actor.for_user(reviewers["security"][0])
    finding = finding_acknowledge(actor=security, finding=finding, note="Looking.")
    assert finding.status == FindingStatus.ACKNOWLEDGED
    finding = finding_resolve(actor=security, finding=finding, resolution="Tool removed.")
    assert finding.status == FindingStatus.RESOLVED
    assert drift_evaluate(actor=SYSTEM).created == 0
    Observation.objects.filter(agent=agent).update(last_seen=finding.last_seen.replace(year=2099))
    assert drift_evaluate(actor=SYSTEM).created == 1
    assert DriftFinding.objects.filter(agent=agent, status=FindingStatus.OPEN).count() == 1


def _conflicted(who, workflow, agent, owner, staff):
    """Approve the agent's package with `who` among its owners or authors; return them and it."""
    if who == "submitter":
        package = package_create(
            actor=Actor.for_user(staff), agent=agent, manifest=manifest_for(agent)
        )
        package = package_submit(actor=Actor.for_user(staff), package=package)
        return staff, workflow.approve_submitted(package)
    person = (
        staff if who == "staff_owner" else UserFactory(username="sec-owner", groups=["security"])
    )
    agent.owners.add(person)
    package = workflow.submit(agent)
    if who == "owner_in_review":  # steps out before the decision: still one of its owners
        agent_update(actor=Actor.for_user(owner), agent=agent, owners=[owner])
    return person, workflow.approve_submitted(package)


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("owner", "owner_review"),
        ("staff_owner", "owner_review"),
        ("owner_in_review", "owner_review"),
        ("submitter", "self_review"),
    ],
)
def test_owners_and_the_packages_authors_never_clear_its_findings(
    workflow, agent, owner, staff, reviewers, audit_since, who, code
):
    person, package = _conflicted(who, workflow, agent, owner, staff)
    assert package.state == PackageState.APPROVED
    finding = DriftFindingFactory(agent=agent, package=package)  # open, critical

    since = audit_since()
    for handle, text in (
        (finding_acknowledge, {"note": "Mine."}),
        (finding_resolve, {"resolution": "Fine."}),
    ):
        with pytest.raises(NotPermitted) as refused:
            handle(actor=Actor.for_user(person), finding=finding, **text)
        assert refused.value.code == code
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN and since() == []
    gate = gate_check(actor=SYSTEM, agent_slug=agent.slug, digest=package.digest)
    assert gate.decision == "deny"

    other = Actor.for_user(reviewers["security"][1])
    finding_resolve(actor=other, finding=finding, resolution="Tool removed.")
    gate = gate_check(actor=SYSTEM, agent_slug=agent.slug, digest=package.digest)
    assert gate.decision == "allow"


@pytest.mark.parametrize(
    ("handle", "field", "text"),
    [
        (finding_acknowledge, "note", "x" * (FINDING_TEXT_MAX_LENGTH + 1)),
        (finding_resolve, "resolution", "x" * (FINDING_TEXT_MAX_LENGTH + 1)),
        (finding_resolve, "resolution", "  "),
    ],
)
def test_a_finding_text_too_long_or_missing_names_its_field_and_changes_nothing(
    agent, reviewers, audit_since, handle, field, text
):
    finding = DriftFindingFactory(agent=agent)
    since = audit_since()
    with pytest.raises(InvalidInput) as refused:
        handle(actor=Actor.for_user(reviewers["security"][0]), finding=finding, **{field: text})
    assert list(refused.value.fields) == [field]
    finding.refresh_from_db()
    assert (finding.status, finding.resolution) == (FindingStatus.OPEN, "")
    assert since() == []


def test_a_new_approved_package_answers_the_finding(workflow, agent):
    workflow.approve(agent)
    _observe(agent, {"kind": "tool", "identifier": "kb-search", "access": "write"})
    drift_evaluate(actor=SYSTEM)
    finding = DriftFinding.objects.get(agent=agent)
    manifest = manifest_for(agent)
    for tool in manifest["scope"]["tools"]:
        if tool["id"] == "kb-search":
            tool["access"] = "write"
    newer = workflow.approve(agent, manifest)
    assert newer.state == PackageState.APPROVED
    run = drift_evaluate(actor=SYSTEM)
    assert (run.resolved, run.created) == (1, 0)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.RESOLVED
    assert f"v{newer.version}" in finding.resolution


@pytest.mark.django_db(transaction=True)
def test_a_drift_run_spares_the_approval_that_lands_during_it(workflow, agent):
    """The final approval of a version covering the drift commits while the run measures
    against the version before: the run re-measures the agent before it suspends it."""
    admin = {"kind": "endpoint", "identifier": "https://admin.example.com", "access": "admin"}
    wider = copy.deepcopy(workflow.approve(agent).manifest)
    wider["scope"]["endpoints"].append(
        {
            "id": admin["identifier"],
            "access": "admin",
            "privileged": True,
            "trust_boundary": "internal",
            "justification": "Admin console for refunds.",
        }
    )
    newer = workflow.submit(agent, wider)
    for dimension in (Dimension.IAM, Dimension.PAM, Dimension.SECURITY):
        needed = newer.signoffs.get(dimension=dimension).required_approvals
        for reviewer in workflow.reviewers[dimension][:needed]:
            workflow.decide(newer, dimension, reviewer)
    assert newer.signoffs.get(dimension=Dimension.COMPLIANCE).required_approvals == 1
    _observe(agent, admin)
    runs = []
    errors = raced(
        lambda: workflow.decide(newer, Dimension.COMPLIANCE),
        lambda: runs.append(drift_evaluate(actor=SYSTEM)),
    )
    assert not errors, errors
    assert runs[0].created == 1 and runs[0].suspended == []
    newer.refresh_from_db()
    agent.refresh_from_db()
    assert newer.state == PackageState.APPROVED and not agent.is_suspended
    finding = DriftFinding.objects.get(agent=agent)
    assert finding.status == FindingStatus.RESOLVED
    assert f"v{newer.version}" in finding.resolution


def test_queries_per_batch_do_not_grow_with_agents(workflow, owner):
    agents = [AgentFactory(owners=[owner]) for _ in range(4)]
    for each in agents:
        workflow.approve(each)
        _observe(each, {"kind": "tool", "identifier": "shell", "access": "execute"})
    one = drift_evaluate(actor=SYSTEM, batch_size=1)
    DriftFinding.objects.all().delete()
    four = drift_evaluate(actor=SYSTEM, batch_size=4)
    assert one.batches == 4 and four.batches == 1
    assert four.created == 4
    assert len(set(one.queries_per_batch + four.queries_per_batch)) == 1
