"""Retirement: the approval is revoked, the gate denies, no new versions, history kept."""

import zipfile

import pytest

from agents.models import AgentStatus
from approvals.evidence import package_evidence
from approvals.gate import DENY, gate_check
from approvals.models import ApprovalPackage, EmergencyApproval, EmergencyState, PackageState
from approvals.retirement import agent_retire
from approvals.services import (
    agent_suspend,
    package_create,
    package_submit,
    package_update_draft,
)
from audit import signing
from audit.actors import Actor
from config.errors import InvalidInput, InvalidTransition, NotPermitted
from outbox.models import Notification
from tests.approvals.emergency import emergency_grant
from tests.audit.test_evidence import run_verifier
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db
CI = Actor.system("ci")


def test_an_owner_retires_the_agent_and_everything_follows(workflow, agent, audit_since):
    approved = workflow.approve(agent)
    pending = workflow.submit(agent, manifest_for(agent, rollback={"plan": "Second."}))
    emergency_grant(workflow, pending)
    since = audit_since()
    agent_retire(actor=Actor.for_user(workflow.owner), agent=agent, reason="Replaced.")
    agent.refresh_from_db()
    assert agent.status == AgentStatus.RETIRED and agent.retired_reason == "Replaced."
    states = dict(ApprovalPackage.objects.filter(agent=agent).values_list("version", "state"))
    assert states == {approved.version: PackageState.REVOKED, pending.version: PackageState.REVOKED}
    assert EmergencyApproval.objects.get(package=pending).state == EmergencyState.ENDED
    actions = [e.action for e in since()]
    assert actions.count("agent.retired") == 1 and actions.count("package.revoked") == 2
    retired = next(e for e in since() if e.action == "agent.retired")
    assert retired.actor_label == "owner" and retired.after["status"] == AgentStatus.RETIRED
    notice = Notification.objects.get(event="agent.retired")
    assert notice.payload["data"] == {"reason": "Replaced."}
    for digest in (approved.digest, pending.digest):
        result = gate_check(actor=CI, agent_slug=agent.slug, digest=digest)
        assert result.decision == DENY and "agent_retired" in [r["code"] for r in result.reasons]
        assert "emergency_approval" not in [r["code"] for r in result.reasons]


def test_a_retired_agent_takes_no_new_version_edit_nor_submission(workflow, agent, staff):
    draft = workflow.create(agent)
    agent_retire(actor=Actor.for_user(staff), agent=agent, reason="Gone.")
    with pytest.raises(InvalidTransition) as refused:
        package_create(
            actor=Actor.for_user(workflow.owner), agent=agent, manifest=manifest_for(agent)
        )
    assert refused.value.code == "agent_retired"
    with pytest.raises(InvalidTransition) as refused:
        package_update_draft(
            actor=Actor.for_user(workflow.owner), package=draft, manifest=manifest_for(agent)
        )
    assert refused.value.code == "agent_retired"
    with pytest.raises(InvalidTransition) as refused:
        package_submit(actor=Actor.for_user(workflow.owner), package=draft)
    assert refused.value.code == "agent_retired"
    with pytest.raises(InvalidTransition) as refused:
        agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Again.")
    assert refused.value.code == "agent_retired"
    with pytest.raises(InvalidTransition) as refused:
        agent_retire(actor=Actor.for_user(staff), agent=agent, reason="Again.")
    assert refused.value.code == "already_retired"


def test_only_owners_and_staff_retire_and_a_reason_is_required(
    workflow, agent, reviewers, other_owner
):
    workflow.approve(agent)
    for user in (reviewers["security"][0], other_owner):
        with pytest.raises(NotPermitted):
            agent_retire(actor=Actor.for_user(user), agent=agent, reason="No.")
    with pytest.raises(InvalidInput) as refused:
        agent_retire(actor=Actor.for_user(workflow.owner), agent=agent, reason="  ")
    assert "reason" in refused.value.fields
    agent.refresh_from_db()
    assert agent.retired_at is None and agent.status == AgentStatus.APPROVED


def test_the_evidence_of_a_retired_agent_stays_exportable(workflow, agent, tmp_path):
    approved = workflow.approve(agent)
    agent_retire(actor=Actor.for_user(workflow.owner), agent=agent, reason="Replaced.")
    name, bundle = package_evidence(actor=CI, package=approved)
    path = tmp_path / name
    path.write_bytes(bundle.read())
    result = run_verifier(path, "--fingerprint", signing.fingerprint())
    assert result.returncode == 0, result.stdout
    assert "revoked" in result.stdout, "the state its revocation set"
    with zipfile.ZipFile(path) as z:
        summary = z.read("summary.html").decode()
        events = z.read("events.jsonl").decode()
    assert "The agent is retired" in summary and "Replaced." in summary
    assert "agent.retired" in events or "package.revoked" in events
