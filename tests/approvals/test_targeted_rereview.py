"""Targeted re-review: a new version re-opens only the dimensions whose items cover its changes.

The other sign-offs carry over from the approved version, each with its
reason, in one audit event; a tier increase, a kill-switch or identity change
and a re-certification re-open all four.
"""

import copy
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from approvals.gate import gate_check
from approvals.models import ApprovalPackage, PackageState
from approvals.ownership import agent_update
from approvals.recertification import approvals_expire_due
from approvals.services import agent_suspend, package_create, package_submit
from audit.actors import Actor
from config.errors import InvalidTransition, NotPermitted
from config.times import whole_second
from outbox.models import Notification
from signoffs.models import SignOffState
from signoffs.permissions import can_decide
from tests.factories import UserFactory, manifest_for

pytestmark = pytest.mark.django_db
ALL = {"iam", "pam", "security", "compliance"}
SYSTEM = Actor.system("tests")


def states(package) -> dict[str, str]:
    return {s.dimension: s.state for s in package.signoffs.all()}


def only_event(events, action):
    matching = [e for e in events if e.action == action]
    assert len(matching) == 1, [e.action for e in events]
    return matching[0]


def test_a_rollback_change_reopens_compliance_only(workflow, agent, audit_since):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1 and hand open cases to the support desk."
    since = audit_since()
    second = workflow.submit(agent, doc)
    assert second.state == PackageState.IN_REVIEW
    assert states(second) == {
        "iam": SignOffState.CARRIED_OVER,
        "pam": SignOffState.CARRIED_OVER,
        "security": SignOffState.CARRIED_OVER,
        "compliance": SignOffState.PENDING,
    }
    signoffs = {s.dimension: s for s in second.signoffs.select_related("carried_over_from")}
    assert (
        signoffs["compliance"].review_reason
        == "Re-opened: CMP-5 covers the rollback plan (rollback.plan)."
    )
    assert signoffs["pam"].review_reason == (
        "Carried over from v1: no item of the PAM checklist covers the rollback "
        "plan (rollback.plan)."
    )
    assert signoffs["pam"].carried_over_from.package_id == first.pk
    assert second.review_plan["mode"] == "targeted"
    assert second.review_plan["changed_fields"] == ["rollback.plan"]
    events = since()
    carried = only_event(events, "package.signoffs_carried_over")
    assert carried.actor_label == workflow.owner.username
    assert carried.data["from_version"] == 1
    assert set(carried.data["carried_over"]) == {"iam", "pam", "security"}
    assert carried.data["reopened"] == {
        "compliance": "Re-opened: CMP-5 covers the rollback plan (rollback.plan)."
    }
    assert "package.approved" not in [e.action for e in events]
    first.refresh_from_db()
    assert first.state == PackageState.APPROVED  # still in force while v2 is reviewed


def test_approving_the_reopened_dimension_approves_without_moving_the_expiry(workflow, agent):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    second = workflow.submit(agent, doc)
    workflow.decide(second, "compliance")
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.state == PackageState.APPROVED
    assert second.carried_over is False
    assert second.expires_at == first.expires_at  # the carried dimensions were not re-read
    assert first.state == PackageState.SUPERSEDED


def test_a_carried_over_signoff_points_at_the_decision_it_stands_on(workflow, agent):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    second = workflow.submit(agent, doc)
    workflow.decide(second, "compliance")
    doc["credentials"]["max_ttl_seconds"] = 3600
    third = workflow.submit(agent, doc)
    assert {d for d, state in states(third).items() if state == SignOffState.PENDING} == {"pam"}
    origin = {
        s.dimension: s.carried_over_from.package.version
        for s in third.signoffs.select_related("carried_over_from__package")
        if s.carried_over_from_id
    }
    assert origin == {"iam": 1, "security": 1, "compliance": 2}


@pytest.mark.parametrize(
    "change, named",
    [
        (
            lambda d: d["identity"].update(log_principal="agent:renamed"),
            "the log principal (identity.log_principal)",
        ),
        (
            lambda d: d["kill_switch"].update(max_minutes_to_revoke=30, owner="sre-oncall"),
            "the kill-switch time to revoke (kill_switch.max_minutes_to_revoke) and the "
            "kill-switch owner (kill_switch.owner)",
        ),
    ],
)
def test_a_kill_switch_or_identity_change_reopens_all_four(workflow, agent, change, named):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    change(doc)
    second = workflow.submit(agent, doc)
    assert set(states(second).values()) == {SignOffState.PENDING}
    assert second.review_plan["mode"] == "full"
    assert second.review_plan["reason"] == (
        f"This version changes {named}; every dimension relies on the kill switch and the "
        "identity, so every dimension reviews again."
    )
    assert not second.review_plan["carried_over"]


def test_a_tier_increase_reopens_all_four(workflow, owner):
    from agents.vocabulary import Deployment
    from tests.factories import AgentFactory, manifest_for

    agent = AgentFactory(
        slug="hr-policy-copilot", deployment=Deployment.INTERNAL_COPILOT, owners=[owner]
    )
    first = workflow.approve(agent, manifest_for(agent, "hr-copilot.yaml"))
    assert first.risk_tier == "low"
    doc = copy.deepcopy(first.manifest)
    doc["scope"]["datasets"][0]["classification"] = "confidential"
    second = workflow.submit(agent, doc)
    assert second.risk_tier == "medium"
    assert set(states(second).values()) == {SignOffState.PENDING}
    assert second.review_plan["reason"].startswith("The risk tier rises from low to medium")


def test_a_recertification_reopens_all_four(workflow, agent):
    first = workflow.approve(agent)
    package = workflow.create(agent, first.manifest, is_recertification=True)
    package = package_submit(actor=Actor.for_user(workflow.owner), package=package)
    assert set(states(package).values()) == {SignOffState.PENDING}
    assert package.review_plan["reason"].startswith("A re-certification")


def test_an_approval_past_its_expiry_carries_nothing_over_before_the_job_marks_it(workflow, agent):
    first = workflow.approve(agent)
    ApprovalPackage.objects.filter(pk=first.pk).update(expires_at=timezone.now())
    narrowed = copy.deepcopy(first.manifest)
    narrowed["scope"]["external_apis"].clear()
    second = workflow.submit(agent, narrowed)
    # The gate denies v1 from its expiry on: a narrowing of it is reviewed in full.
    assert second.state == PackageState.IN_REVIEW
    assert set(states(second).values()) == {SignOffState.PENDING}
    assert second.review_plan["reason"] == (
        f"v{first.version} is expired, so nothing carries over: every dimension reviews."
    )


def test_a_new_entry_reopens_every_dimension(workflow, agent):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["scope"]["tools"].append({"id": "faq-search", "access": "read"})
    second = workflow.submit(agent, doc)
    assert set(states(second).values()) == {SignOffState.PENDING}
    assert second.review_plan["mode"] == "targeted"  # every dimension covers an entry


def test_whoever_decided_a_carried_dimension_decides_no_other(workflow, agent, reviewers):
    first = workflow.approve(agent)
    iam_reviewer = reviewers["iam"][0]
    iam_reviewer.groups.add(*UserFactory(groups=["compliance"]).groups.all())
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    second = workflow.submit(agent, doc)
    with pytest.raises(NotPermitted) as refused:
        workflow.decide(second, "compliance", iam_reviewer)
    assert refused.value.code == "other_dimension"
    workflow.decide(second, "compliance")
    second.refresh_from_db()
    assert second.state == PackageState.APPROVED


OWN_DECISION = {
    "self_review": "Re-opened: security1, who decided it in v1, created or submitted this "
    "version; nobody signs off their own package.",
    "owner_review": "Re-opened: security1, who decided it in v1, owns the agent; its owners "
    "never sign off its packages.",
}


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("owner_submits", "self_review"),  # made a co-owner, then submits
        ("owner", "owner_review"),  # made a co-owner; the first owner submits
        ("staff_submits", "self_review"),  # on staff, submits without owning the agent
    ],
)
def test_a_decision_of_the_submitter_or_an_owner_reopens_its_dimension(
    workflow, agent, owner, reviewers, audit_since, who, code
):
    security1 = reviewers["security"][0]
    first = workflow.approve(agent)
    if who == "staff_submits":
        security1.is_staff = True
        security1.save(update_fields=["is_staff"])
    else:  # nothing is in review, so nothing refuses it
        agent_update(actor=Actor.for_user(owner), agent=agent, owners=[owner, security1])
    submitter = owner if who == "owner" else security1
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    draft = package_create(actor=Actor.for_user(submitter), agent=agent, manifest=doc)
    since = audit_since()
    second = package_submit(actor=Actor.for_user(submitter), package=draft)
    assert states(second) == {
        "iam": SignOffState.CARRIED_OVER,
        "pam": SignOffState.CARRIED_OVER,
        "security": SignOffState.PENDING,
        "compliance": SignOffState.PENDING,
    }
    reason = OWN_DECISION[code]
    assert second.signoffs.get(dimension="security").review_reason == reason
    assert second.review_plan["reopened"]["security"] == reason
    assert set(second.review_plan["carried_over"]) == {"iam", "pam"}
    assert only_event(since(), "package.signoffs_carried_over").data["reopened"] == {
        "security": reason,
        "compliance": "Re-opened: CMP-5 covers the rollback plan (rollback.plan).",
    }

    # Security is reviewed again, by others: the approval stands on none of security1's.
    workflow.decide(second, "compliance")
    second.refresh_from_db()
    assert second.state == PackageState.IN_REVIEW
    with pytest.raises(NotPermitted) as refused:
        workflow.decide(second, "security", security1)
    assert refused.value.code == code
    security3 = UserFactory(username="security3", groups=["security"])
    for reviewer in (reviewers["security"][1], security3):
        workflow.decide(second, "security", reviewer)
    second.refresh_from_db()
    assert second.state == PackageState.APPROVED


def test_a_narrowing_an_owner_signed_off_is_not_approved_at_once(workflow, agent, owner, reviewers):
    workflow.approve(agent)
    agent_update(actor=Actor.for_user(owner), agent=agent, owners=[owner, reviewers["pam"][0]])
    narrow = manifest_for(agent)
    narrow["scope"]["datasets"].pop()
    second = workflow.submit(agent, narrow)
    assert second.state == PackageState.IN_REVIEW
    assert second.review_plan["mode"] == "targeted"
    assert second.review_plan["reopened"] == {
        "pam": "Re-opened: pam1, who decided it in v1, owns the agent; its owners never sign "
        "off its packages."
    }
    assert {d for d, state in states(second).items() if state == SignOffState.PENDING} == {"pam"}


def test_a_suspension_revokes_a_review_carrying_signoffs_over(workflow, agent):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    targeted = workflow.submit(agent, doc)
    agent_suspend(actor=SYSTEM, agent=agent, reason="Incident 44.")
    targeted.refresh_from_db()
    # Its carried sign-offs stood on the approval the suspension revoked: approving the
    # re-opened dimension must not lift the kill switch.
    assert targeted.state == PackageState.REVOKED
    assert targeted.state_reason == (
        "Agent suspended: the sign-offs this review carried over no longer stand."
    )
    # The next version is reviewed in full, and only its approval lifts the suspension.
    full = workflow.submit(agent, doc)
    assert set(states(full).values()) == {SignOffState.PENDING}
    agent.refresh_from_db()
    assert agent.is_suspended


def test_a_review_in_full_stays_open_through_a_suspension(workflow, agent):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["scope"]["tools"].append({"id": "refund-issue-2", "access": "read", "justification": "x"})
    full = workflow.submit(agent, doc)
    agent_suspend(actor=SYSTEM, agent=agent, reason="Incident 45.")
    full.refresh_from_db()
    assert full.state == PackageState.IN_REVIEW


def test_a_draft_older_than_the_approved_version_is_not_submitted(workflow, agent):
    first = workflow.approve(agent)
    older = package_create(actor=SYSTEM, agent=agent, manifest=first.manifest)
    newer = workflow.approve(agent)  # another owner's version, approved meanwhile
    with pytest.raises(InvalidTransition) as refused:
        package_submit(actor=SYSTEM, package=older)
    assert refused.value.code == "draft_outdated"
    assert f"v{newer.version} was approved after this draft was made" in refused.value.message
    older.refresh_from_db()
    assert older.state == PackageState.DRAFT


def _rollback_changed(doc):
    doc = copy.deepcopy(doc)
    doc["rollback"]["plan"] = "Redeploy v1."
    return doc


def _expire_in(package, delta):
    ApprovalPackage.objects.filter(pk=package.pk).update(expires_at=timezone.now() + delta)
    package.refresh_from_db()


def test_a_change_submitted_once_the_approval_is_due_is_reviewed_in_full(workflow, agent):
    """A targeted review would keep an expiry inside the re-certification window and stand
    in the re-certification's way: once the approval is due, a change is reviewed in full
    and its approval re-certifies the scope. A narrowing still carries over at once."""
    first = workflow.approve(agent)
    lead = settings.COUNTERSIGN["RECERTIFICATION_LEAD_DAYS"]
    _expire_in(first, timedelta(days=lead - 1))
    second = workflow.submit(agent, _rollback_changed(first.manifest))
    assert set(states(second).values()) == {SignOffState.PENDING}
    assert second.review_plan["mode"] == "full"
    assert second.review_plan["reason"] == (
        f"v1 is due for re-certification by {first.expires_at.date()}: every dimension "
        "reviews, and the approval re-certifies the scope."
    )
    second = workflow.approve_submitted(second)
    assert second.state == PackageState.APPROVED
    assert second.expires_at == whole_second(second.approved_at + timedelta(days=30))
    narrowed = copy.deepcopy(second.manifest)
    narrowed["scope"]["external_apis"].clear()
    _expire_in(second, timedelta(days=lead - 1))
    third = workflow.submit(agent, narrowed)
    assert third.state == PackageState.APPROVED
    assert third.review_plan["mode"] == "carried"


def test_the_signoffs_a_review_carries_reopen_when_its_approval_expires(
    workflow, agent, audit_since
):
    """Nothing carries over from a lapsed approval: the expiry re-opens what a review in
    progress carried from it, so its approval is a full one with a lifetime of its own."""
    first = workflow.approve(agent)
    second = workflow.submit(agent, _rollback_changed(first.manifest))
    _expire_in(first, -timedelta(hours=1))
    since = audit_since()
    assert approvals_expire_due(actor=SYSTEM).done == [f"{agent.slug} v1"]
    second.refresh_from_db()
    assert second.state == PackageState.IN_REVIEW
    reason = "v1 is expired, so nothing carries over: every dimension reviews."
    assert states(second) == dict.fromkeys(ALL, SignOffState.PENDING)
    signoffs = second.signoffs.all()
    assert {s.dimension: s.review_reason for s in signoffs if s.dimension != "compliance"} == (
        dict.fromkeys(["iam", "pam", "security"], reason)
    )
    assert not any(s.carried_over_from_id for s in signoffs)
    assert second.review_plan["mode"] == "full"
    assert second.review_plan["reason"] == reason
    assert second.review_plan["carried_over"] == {}
    assert list(second.review_plan["reopened"]) == ["iam", "pam", "security", "compliance"]
    events = since()
    assert [e.action for e in events] == ["package.expired", "package.signoffs_reopened"]
    assert events[1].package_version == second.version
    assert events[1].data == {
        "reason": reason,
        "reopened": {"iam": 1, "pam": 1, "security": 1},
    }
    notice = Notification.objects.get(event="package.signoffs_reopened")
    assert notice.payload["data"]["reopened"] == "IAM, PAM, Security"
    second = workflow.approve_submitted(second)
    assert second.state == PackageState.APPROVED
    assert second.expires_at == whole_second(second.approved_at + timedelta(days=30))


def test_a_decision_after_the_approval_lapsed_reopens_what_the_review_carries(
    workflow, agent, reviewers, audit_since
):
    """Before the expiry job marks the approval expired, the last needed decision does not
    approve a version on sign-offs that stand on it: they re-open, the decision stands."""
    first = workflow.approve(agent)
    second = workflow.submit(agent, _rollback_changed(first.manifest))
    _expire_in(first, -timedelta(hours=1))
    since = audit_since()
    workflow.decide(second, "compliance")
    second.refresh_from_db()
    assert second.state == PackageState.IN_REVIEW
    assert states(second) == {
        "iam": SignOffState.PENDING,
        "pam": SignOffState.PENDING,
        "security": SignOffState.PENDING,
        "compliance": SignOffState.APPROVED,
    }
    reopened = only_event(since(), "package.signoffs_reopened")
    assert reopened.actor_label == "compliance1"
    assert set(reopened.data["reopened"]) == {"iam", "pam", "security"}
    for dimension in ("iam", "pam", "security"):
        for reviewer in reviewers[dimension][: 2 if dimension == "security" else 1]:
            workflow.decide(second, dimension, reviewer)
    second.refresh_from_db()
    assert second.state == PackageState.APPROVED
    assert second.expires_at == whole_second(second.approved_at + timedelta(days=30))
    assert gate_check(actor=SYSTEM, agent_slug=agent.slug, digest=second.digest).decision == (
        "allow"
    )


@pytest.mark.parametrize(
    ("dimension", "refused"), [("iam", "already_decided"), ("compliance", "other_dimension")]
)
def test_can_decide_agrees_with_the_service_once_the_approval_lapsed(
    workflow, agent, reviewers, dimension, refused
):
    """The rule pages and the API ask before reading the form is the service's: decisions
    carried over from an approval past its expiry count no more, before the expiry job runs."""
    first = workflow.approve(agent)
    iam1 = reviewers["iam"][0]
    iam1.groups.add(*UserFactory(groups=["compliance"]).groups.all())
    second = workflow.submit(agent, _rollback_changed(first.manifest))
    signoff = second.signoffs.get(dimension=dimension)
    assert can_decide(iam1, signoff).code == refused  # v1 is in force: its decision counts
    with pytest.raises(NotPermitted) as raised:
        workflow.decide(second, dimension, iam1)
    assert raised.value.code == refused
    _expire_in(first, -timedelta(seconds=1))
    assert first.state == PackageState.APPROVED  # the expiry job has not run
    second = ApprovalPackage.objects.get(pk=second.pk)
    assert can_decide(iam1, second.signoffs.get(dimension=dimension))
    workflow.decide(second, dimension, iam1)
    assert second.signoffs.get(dimension=dimension).decisions.get().reviewer == iam1
