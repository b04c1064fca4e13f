"""Emergency release: asked for by an owner, granted by security and PAM, time-boxed at the gate."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.observations import observations_record
from approvals.drift import drift_evaluate
from approvals.emergency import (
    EMERGENCY_EXPIRED_REASON,
    emergencies_expire_due,
    emergency_approve,
    emergency_request,
)
from approvals.gate import ALLOW, DENY, gate_check
from approvals.models import (
    EMERGENCY_TRANSITIONS,
    ApprovalPackage,
    DriftFinding,
    EmergencyApproval,
    EmergencyState,
    PackageState,
)
from approvals.ownership import agent_update
from approvals.services import agent_suspend, package_create
from audit.actors import Actor
from config.errors import InvalidInput, InvalidTransition, NotPermitted
from config.times import whole_second
from outbox.models import Notification
from signoffs.models import SignOffState, Verdict
from tests.approvals.emergency import emergency_grant
from tests.factories import UserFactory, manifest_for

pytestmark = pytest.mark.django_db
CI = Actor.system("ci")
URGENT = "Fix for incident 42 must ship tonight."


def codes(result):
    return [reason["code"] for reason in result.reasons]


def check(agent, package):
    return gate_check(actor=CI, agent_slug=agent.slug, digest=package.digest)


@pytest.fixture
def second(workflow, agent):
    """v1 approved; v2 (a wider rollback commitment) in review."""
    workflow.approve(agent)
    return workflow.submit(agent, manifest_for(agent, rollback={"plan": "Roll back v2."}))


def test_an_owner_asks_with_a_reason_and_it_is_audited(workflow, agent, second, audit_since):
    since = audit_since()
    emergency = emergency_request(
        actor=Actor.for_user(workflow.owner), package=second, reason=URGENT
    )
    assert emergency.state == EmergencyState.REQUESTED and emergency.reason == URGENT
    events = since()
    assert [e.action for e in events] == ["emergency.requested"]
    assert events[0].actor_label == "owner" and events[0].package_version == second.version
    assert Notification.objects.filter(event="emergency.requested").count() == 1
    # Not yet granted: the gate still answers from v1.
    assert codes(check(agent, second)) == ["scope_mismatch"]


def test_a_draft_is_submitted_and_its_full_review_opens_at_once(workflow, agent):
    draft = workflow.create(agent)
    emergency = emergency_request(
        actor=Actor.for_user(workflow.owner), package=draft, reason=URGENT
    )
    package = ApprovalPackage.objects.get(pk=draft.pk)
    assert package.state == PackageState.IN_REVIEW and emergency.package_id == package.pk
    assert sorted(package.signoffs.values_list("state", flat=True)) == [SignOffState.PENDING] * 4


@pytest.mark.parametrize("reason", ["", "   ", "x" * 2001])
def test_a_missing_or_overlong_reason_is_refused_and_changes_nothing(workflow, agent, reason):
    draft = workflow.create(agent)
    with pytest.raises(InvalidInput) as refused:
        emergency_request(actor=Actor.for_user(workflow.owner), package=draft, reason=reason)
    assert "reason" in refused.value.fields
    assert ApprovalPackage.objects.get(pk=draft.pk).state == PackageState.DRAFT
    assert not EmergencyApproval.objects.exists()


def test_only_owners_and_staff_ask(workflow, agent, second, reviewers, other_owner, staff):
    for user in (reviewers["security"][0], other_owner):
        with pytest.raises(NotPermitted) as refused:
            emergency_request(actor=Actor.for_user(user), package=second, reason=URGENT)
        assert refused.value.code == "not_owner"
    assert emergency_request(actor=Actor.for_user(staff), package=second, reason=URGENT)


def test_a_package_out_of_review_or_asked_for_twice_is_refused(workflow, agent, second):
    first = ApprovalPackage.objects.get(agent=agent, version=1)
    with pytest.raises(InvalidTransition) as refused:
        emergency_request(actor=Actor.for_user(workflow.owner), package=first, reason=URGENT)
    assert refused.value.code == "not_in_review"
    emergency_request(actor=Actor.for_user(workflow.owner), package=second, reason=URGENT)
    with pytest.raises(InvalidTransition) as refused:
        emergency_request(actor=Actor.for_user(workflow.owner), package=second, reason=URGENT)
    assert refused.value.code == "emergency_exists"


def test_a_narrowing_needs_no_emergency_and_the_request_changes_nothing(workflow, agent):
    workflow.approve(agent)
    narrow = manifest_for(agent)
    narrow["scope"]["datasets"].pop()
    draft = workflow.create(agent, narrow)
    with pytest.raises(InvalidTransition) as refused:
        emergency_request(actor=Actor.for_user(workflow.owner), package=draft, reason=URGENT)
    assert refused.value.code == "no_emergency_needed"
    assert ApprovalPackage.objects.get(pk=draft.pk).state == PackageState.DRAFT


def test_a_narrowing_that_would_stand_on_an_owners_decision_is_reviewed_and_may_be_released(
    workflow, agent, owner, reviewers
):
    workflow.approve(agent)
    pam1 = reviewers["pam"][0]
    agent_update(actor=Actor.for_user(owner), agent=agent, owners=[owner, pam1])
    narrow = manifest_for(agent)
    narrow["scope"]["datasets"].pop()
    draft = workflow.create(agent, narrow)
    emergency = emergency_request(actor=Actor.for_user(owner), package=draft, reason=URGENT)
    draft.refresh_from_db()
    assert draft.state == PackageState.IN_REVIEW and emergency.state == EmergencyState.REQUESTED
    assert set(draft.review_plan["reopened"]) == {"pam"}
    with pytest.raises(NotPermitted) as refused:
        emergency_approve(actor=Actor.for_user(pam1), package=draft, dimension="pam")
    assert refused.value.code == "owner_review"


def test_the_requester_never_approves_it(workflow, agent, second, staff):
    staff.groups.add(*UserFactory(username="g", groups=["security"]).groups.all())
    emergency = emergency_request(actor=Actor.for_user(staff), package=second, reason=URGENT)
    with pytest.raises(NotPermitted) as refused:
        emergency_approve(actor=Actor.for_user(staff), package=second, dimension="security")
    assert refused.value.code == "self_review"
    emergency.refresh_from_db()
    assert emergency.security_approver is None


def test_one_person_gives_one_approval_and_only_reviewers_of_the_dimension(
    workflow, agent, second, reviewers
):
    both = UserFactory(username="secpam", groups=["security", "pam"])
    emergency_request(actor=Actor.for_user(workflow.owner), package=second, reason=URGENT)
    for user, dimension, code in (
        (reviewers["iam"][0], "security", "not_reviewer"),
        (workflow.owner, "pam", "not_reviewer"),
    ):
        with pytest.raises(NotPermitted) as refused:
            emergency_approve(actor=Actor.for_user(user), package=second, dimension=dimension)
        assert refused.value.code == code
    with pytest.raises(InvalidInput) as refused:
        emergency_approve(actor=Actor.for_user(both), package=second, dimension="iam")
    assert "dimension" in refused.value.fields
    emergency_approve(actor=Actor.for_user(both), package=second, dimension="security")
    with pytest.raises(NotPermitted) as refused:
        emergency_approve(actor=Actor.for_user(both), package=second, dimension="pam")
    assert refused.value.code == "other_dimension"
    with pytest.raises(NotPermitted) as refused:
        emergency_approve(
            actor=Actor.for_user(reviewers["security"][0]), package=second, dimension="security"
        )
    assert refused.value.code == "already_decided"


def test_two_approvals_open_the_time_box_and_the_gate_allows_with_its_reason(
    workflow, agent, second, audit_since, settings
):
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "EMERGENCY_APPROVAL_HOURS": 5}
    since = audit_since()
    emergency = emergency_grant(workflow, second)
    assert [e.action for e in since()] == [
        "emergency.requested",
        "emergency.approved",
        "emergency.approved",
        "emergency.granted",
    ]
    assert emergency.state == EmergencyState.ACTIVE
    # Five hours, written in whole seconds (the precision a Cedar bundle compares).
    assert emergency.ends_at == whole_second(emergency.granted_at + timedelta(hours=5))
    for result in (
        check(agent, second),
        gate_check(actor=CI, agent_slug=agent.slug, manifest=second.manifest),
    ):
        assert (result.decision, codes(result)) == (ALLOW, ["emergency_approval"])
        assert result.package_version == second.version
        assert result.expires_at == emergency.ends_at
    # The approved v1 still ships as approved, with no emergency reason.
    first = ApprovalPackage.objects.get(agent=agent, version=1)
    assert (check(agent, first).decision, check(agent, first).reasons) == (ALLOW, [])
    # A scope wider than the emergency's is not covered by it.
    wider = manifest_for(agent, rollback={"plan": "Roll back v2."})
    wider["scope"]["tools"].append(
        {"id": "refund-issue-2", "access": "write", "justification": "More."}
    )
    from approvals import manifest as manifests

    result = gate_check(actor=CI, agent_slug=agent.slug, manifest=manifests.load_manifest(wider))
    assert result.decision == DENY and "emergency_approval" not in codes(result)


def test_the_grant_is_a_move_of_the_transition_table(
    workflow, agent, second, audit_since, monkeypatch
):
    """An approval that could not lead to the grant is refused, whatever the inline checks say."""
    emergency = emergency_request(
        actor=Actor.for_user(workflow.owner), package=second, reason=URGENT
    )
    requested = EmergencyState.REQUESTED
    monkeypatch.setitem(EMERGENCY_TRANSITIONS, requested, frozenset({EmergencyState.ENDED}))
    since = audit_since()
    with pytest.raises(InvalidTransition) as refused:
        emergency_approve(
            actor=Actor.for_user(workflow.reviewers["security"][0]),
            package=second,
            dimension="security",
        )
    assert refused.value.code == "emergency_closed"
    emergency.refresh_from_db()
    assert emergency.security_approver is None and since() == []


def test_after_the_box_the_gate_denies_and_the_job_expires_it_once(
    workflow, agent, second, audit_since
):
    emergency = emergency_grant(workflow, second)
    EmergencyApproval.objects.filter(pk=emergency.pk).update(
        ends_at=timezone.now() - timedelta(minutes=1)
    )
    # The gate denies from the box's end, whether or not the job has run.
    assert codes(check(agent, second)) == ["emergency_expired"]
    since = audit_since()
    run = emergencies_expire_due(actor=Actor.system("celery:emergencies_expire"))
    assert run.done == [f"{agent.slug} v{second.version}"]
    assert [e.action for e in since()] == ["emergency.expired"]
    assert EmergencyApproval.objects.get(pk=emergency.pk).state == EmergencyState.EXPIRED
    expired = Notification.objects.get(event="emergency.expired")
    assert expired.payload["package_version"] == second.version
    assert codes(check(agent, second)) == ["emergency_expired"]
    again = emergencies_expire_due(actor=Actor.system("celery:emergencies_expire"))
    assert again.done == []
    assert [e.action for e in since() if e.action != "gate.checked"] == ["emergency.expired"]


def test_drift_measures_uses_against_the_emergency_scope_while_its_box_is_open(workflow, agent):
    workflow.approve(agent)
    wider = manifest_for(agent)
    wider["scope"]["tools"].append(
        {"id": "refund-issue-2", "access": "write", "justification": "The incident's fix."}
    )
    emergency = emergency_grant(workflow, workflow.submit(agent, wider))
    use = {"kind": "tool", "identifier": "refund-issue-2", "access": "write"}
    observations_record(actor=CI, agent=agent, items=[use])
    assert drift_evaluate(actor=CI).created == 0
    EmergencyApproval.objects.filter(pk=emergency.pk).update(
        ends_at=timezone.now() - timedelta(minutes=1)
    )
    assert drift_evaluate(actor=CI).created == 1
    finding = DriftFinding.objects.get(agent=agent)
    assert (finding.identifier, finding.reason) == ("refund-issue-2", "unapproved_tool")


def test_during_an_emergency_a_use_the_approved_version_allows_is_no_drift(workflow, agent):
    """The gate and the decision point allow either version in force; so does drift."""
    workflow.approve(agent)
    changed = manifest_for(agent)
    changed["model"]["id"] = "example-llm-large-2026-11"
    changed["scope"]["tools"][0]["access"] = "read"  # zendesk: write in v1
    emergency_grant(workflow, workflow.submit(agent, changed))
    v1_model = manifest_for(agent)["model"]["id"]
    observations_record(
        actor=CI,
        agent=agent,
        items=[
            {"kind": "tool", "identifier": "zendesk", "access": "write"},
            {"kind": "model", "identifier": v1_model, "access": ""},
            {"kind": "tool", "identifier": "zendesk", "access": "admin"},
            {"kind": "model", "identifier": "example-llm-small-2026-11", "access": ""},
        ],
    )
    assert drift_evaluate(actor=CI).created == 2
    found = DriftFinding.objects.filter(agent=agent)
    assert {(f.identifier, f.access, f.reason) for f in found} == {
        ("zendesk", "admin", "higher_access"),
        ("example-llm-small-2026-11", "", "model_changed"),
    }
    # Each finding is filed under the newest version in force, the emergency's.
    assert {f.package.version for f in found} == {2}


def test_the_full_review_approving_concludes_it(workflow, agent, second, reviewers):
    emergency_grant(workflow, second)
    # security1 and pam1 gave the emergency approvals; they may still decide the review.
    workflow.approve_submitted(second)
    emergency = EmergencyApproval.objects.get(package=second)
    assert emergency.state == EmergencyState.CONCLUDED
    result = check(agent, second)
    assert (result.decision, result.reasons) == (ALLOW, [])


def test_a_full_approval_after_the_box_ended_finds_it_expired_job_or_not(
    workflow, agent, second, audit_since
):
    """From its end the gate denies the version (`emergency_expired`): an approval that
    comes later, before the emergencies job ran, does not record it as concluded."""
    emergency = emergency_grant(workflow, second)
    EmergencyApproval.objects.filter(pk=emergency.pk).update(ends_at=timezone.now())
    assert codes(check(agent, second)) == ["emergency_expired"]
    since = audit_since()
    workflow.approve_submitted(second)
    emergency = EmergencyApproval.objects.get(package=second)
    assert emergency.state == EmergencyState.EXPIRED
    assert emergency.state_reason == EMERGENCY_EXPIRED_REASON
    assert [e.action for e in since() if e.action.startswith("emergency.")] == ["emergency.expired"]
    assert Notification.objects.filter(event="emergency.expired").count() == 1
    assert emergencies_expire_due(actor=CI).done == []
    result = check(agent, second)
    assert (result.decision, result.reasons) == (ALLOW, [])


def test_a_rejection_after_the_box_ended_finds_it_expired(workflow, agent, second):
    emergency = emergency_grant(workflow, second)
    EmergencyApproval.objects.filter(pk=emergency.pk).update(ends_at=timezone.now())
    workflow.decide(second, "compliance", verdict=Verdict.REJECT, comment="No rollback evidence.")
    emergency = EmergencyApproval.objects.get(package=second)
    assert (emergency.state, emergency.state_reason) == (
        EmergencyState.EXPIRED,
        EMERGENCY_EXPIRED_REASON,
    )
    assert codes(check(agent, second)) == ["emergency_expired"]


def test_a_rejection_ends_it_and_the_gate_denies(workflow, agent, second):
    emergency_grant(workflow, second)
    workflow.decide(second, "compliance", verdict=Verdict.REJECT, comment="No rollback evidence.")
    emergency = EmergencyApproval.objects.get(package=second)
    assert emergency.state == EmergencyState.ENDED
    assert codes(check(agent, second)) == ["emergency_expired"]
    assert Notification.objects.filter(event="emergency.ended").count() == 1


def test_a_newer_version_ends_the_emergency_of_the_one_it_supersedes(workflow, agent, second):
    emergency_grant(workflow, second)
    workflow.submit(agent, manifest_for(agent, rollback={"plan": "Third."}))
    assert EmergencyApproval.objects.get(package=second).state == EmergencyState.ENDED


def test_a_suspension_denies_even_inside_the_box(workflow, agent, staff):
    workflow.approve(agent)
    wider = manifest_for(agent)
    wider["scope"]["tools"].append({"id": "refund-issue-2", "access": "read", "justification": "x"})
    full = workflow.submit(agent, wider)  # every dimension reviews it
    emergency_grant(workflow, full)
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 43.")
    result = check(agent, full)
    assert result.decision == DENY and codes(result) == ["agent_suspended"]
    assert EmergencyApproval.objects.get(package=full).state == EmergencyState.ACTIVE


def test_a_suspension_ends_the_emergency_of_a_review_carrying_signoffs_over(
    workflow, agent, second, staff
):
    emergency_grant(workflow, second)
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 43.")
    # Its carried sign-offs stood on the approval the suspension revoked: the review is
    # revoked with it, and its emergency ends.
    second.refresh_from_db()
    assert second.state == PackageState.REVOKED
    assert EmergencyApproval.objects.get(package=second).state == EmergencyState.ENDED
    result = check(agent, second)
    assert result.decision == DENY and codes(result) == ["agent_suspended", "emergency_expired"]


def test_a_first_version_can_ship_on_an_emergency(workflow, agent):
    package = workflow.submit(agent)
    emergency_grant(workflow, package)
    result = check(agent, package)
    assert (result.decision, codes(result)) == (ALLOW, ["emergency_approval"])


def test_a_suspension_calls_the_webhook_of_the_version_shipping_on_an_emergency(workflow, agent):
    first = workflow.submit(agent)
    emergency_grant(workflow, first)
    agent_suspend(actor=Actor.system("test"), agent=agent, reason="Incident 44.")
    sent = Notification.objects.get(event="agent.suspended")
    assert sent.payload["kill_switch_webhook"] == first.manifest["kill_switch"]["webhook"]


def test_a_suspension_calls_the_newer_webhook_an_emergency_shipped(workflow, agent, staff):
    workflow.approve(agent)
    moved = manifest_for(agent)
    moved["kill_switch"]["webhook"] = "https://gateway.internal.example.com/hooks/kill/v2"
    emergency_grant(workflow, workflow.submit(agent, moved))
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 45.")
    sent = Notification.objects.get(event="agent.suspended")
    assert (
        sent.payload["kill_switch_webhook"] == "https://gateway.internal.example.com/hooks/kill/v2"
    )


def test_a_suspended_agent_cannot_ask(workflow, agent, second, staff):
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 43.")
    draft = package_create(
        actor=Actor.for_user(workflow.owner),
        agent=agent,
        manifest=manifest_for(agent, rollback={"plan": "Third."}),
    )
    with pytest.raises(InvalidTransition) as refused:
        emergency_request(actor=Actor.for_user(workflow.owner), package=draft, reason=URGENT)
    assert refused.value.code == "agent_suspended"


def test_the_evidence_bundle_marks_an_emergency_approval(workflow, agent, second, tmp_path):
    import json
    import zipfile

    from approvals.evidence import package_evidence
    from audit import signing
    from tests.audit.test_evidence import run_verifier

    emergency_grant(workflow, second)
    _, bundle = package_evidence(actor=CI, package=second)
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle.read())
    result = run_verifier(path, "--fingerprint", signing.fingerprint())
    assert result.returncode == 0, result.stdout
    with zipfile.ZipFile(path) as z:
        record = json.loads(z.read("package.json"))
        summary = z.read("summary.html").decode()
    assert record["emergency"]["state"] == EmergencyState.ACTIVE
    assert record["emergency"]["security_approver"] == "security1"
    assert record["emergency"]["pam_approver"] == "pam1"
    assert record["emergency"]["reason"] == URGENT
    assert "Emergency approval" in summary and URGENT in summary


def test_the_evidence_bundle_names_who_could_give_each_emergency_approval(
    workflow, agent, second, reviewers
):
    import io
    import json
    import zipfile

    from approvals.evidence import package_evidence

    requester_in_group = UserFactory(username="sec-owner", groups=["security"])
    agent.owners.add(requester_in_group)
    emergency_grant(workflow, second)
    _, bundle = package_evidence(actor=CI, package=second)
    with zipfile.ZipFile(io.BytesIO(bundle.read())) as z:
        eligibility = json.loads(z.read("eligibility.json"))
        summary = z.read("summary.html").decode()

    rows = {row["dimension"]: row for row in eligibility["emergency_approvals"]}
    assert set(rows) == {"security", "pam"}
    assert eligibility["emergency_rule"]
    security = rows["security"]
    assert security["reviewer"] == "security1" and security["reviewer_was_eligible"]
    assert {u.username for u in reviewers["security"]} <= set(security["eligible"])
    assert {"user": "sec-owner", "reason": "owner_review"} in security["excluded"]
    assert rows["pam"]["reviewer"] == "pam1" and rows["pam"]["reviewer_was_eligible"]
    assert rows["security"]["at_seq"] < rows["pam"]["at_seq"]
    assert "pam1 was eligible" in summary
