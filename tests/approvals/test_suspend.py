"""The kill switch: who may pull it, what it does, and how it is lifted."""

import pytest

from agents.models import AgentStatus
from approvals.gate import gate_check
from approvals.models import PackageState
from approvals.rereview import SUSPENDED_REASON
from approvals.services import agent_suspend
from audit.actors import Actor
from config.errors import InvalidInput, InvalidTransition, NotPermitted
from config.reasons import REASON_MAX_LENGTH
from outbox.models import Notification
from signoffs.models import Decision, SignOffState
from signoffs.permissions import can_decide
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db


def test_security_reviewer_suspends_and_approval_is_revoked(
    workflow, agent, reviewers, audit_since
):
    package = workflow.approve(agent)
    since = audit_since()
    agent_suspend(actor=Actor.for_user(reviewers["security"][0]), agent=agent, reason="Leak")
    agent.refresh_from_db()
    package.refresh_from_db()
    assert agent.status == AgentStatus.SUSPENDED
    assert agent.suspended_reason == "Leak"
    assert package.state == PackageState.REVOKED
    events = since()
    assert [e.action for e in events] == ["package.revoked", "agent.suspended"]
    assert events[1].actor_label == reviewers["security"][0].username


@pytest.mark.parametrize("role", ["iam", "compliance", "owner"])
def test_others_may_not_suspend(workflow, agent, reviewers, role, audit_since):
    workflow.approve(agent)
    user = workflow.owner if role == "owner" else reviewers[role][0]
    since = audit_since()
    with pytest.raises(NotPermitted):
        agent_suspend(actor=Actor.for_user(user), agent=agent, reason="x")
    assert since() == []


@pytest.mark.parametrize(
    ("reason", "problem"),
    [
        (" ", "A reason is required."),
        ("x" * (REASON_MAX_LENGTH + 1), f"At most {REASON_MAX_LENGTH} characters."),
    ],
)
def test_a_missing_or_overlong_reason_is_refused_and_changes_nothing(
    workflow, agent, reviewers, audit_since, reason, problem
):
    since = audit_since()
    with pytest.raises(InvalidInput) as raised:
        agent_suspend(actor=Actor.for_user(reviewers["pam"][0]), agent=agent, reason=reason)
    assert raised.value.fields == {"reason": [problem]}
    agent.refresh_from_db()
    assert agent.suspended_at is None and since() == []


def test_suspending_twice_is_refused(workflow, agent, staff):
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="x")
    with pytest.raises(InvalidTransition):
        agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="y")


def test_a_fresh_approval_lifts_the_suspension(workflow, agent, staff):
    workflow.approve(agent)
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident")
    fresh = workflow.approve(agent, manifest_for(agent))
    agent.refresh_from_db()
    assert fresh.state == PackageState.APPROVED
    assert agent.suspended_at is None
    assert agent.status == AgentStatus.APPROVED


def _expansion(agent):
    wider = manifest_for(agent)
    wider["scope"]["tools"].append({"id": "refund-issue-2", "access": "read", "justification": "x"})
    return wider


def test_decisions_made_before_a_suspension_do_not_lift_it(
    workflow, agent, staff, reviewers, audit_since
):
    workflow.approve(agent)
    full = workflow.submit(agent, _expansion(agent))  # a review in full
    for dimension in ("iam", "pam", "security"):  # security needs two on a critical agent
        for reviewer in reviewers[dimension][: 2 if dimension == "security" else 1]:
            workflow.decide(full, dimension, reviewer)
    before = set(Decision.objects.filter(signoff__package=full).values_list("pk", flat=True))
    since = audit_since()
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 46.")
    assert [e.action for e in since()] == [
        "package.revoked",
        "package.signoffs_reopened",
        "agent.suspended",
    ]
    reopened = since()[1]
    assert reopened.target_id == str(full.pk)
    assert reopened.data["reason"] == SUSPENDED_REASON
    assert reopened.data["reopened"] == {"iam": None, "pam": None, "security": None}
    assert {pk for pks in reopened.data["set_aside"].values() for pk in pks} == before
    notice = Notification.objects.get(event="package.signoffs_reopened")
    assert notice.payload["data"]["reopened"] == "IAM, PAM, Security"
    full.refresh_from_db()
    assert full.state == PackageState.IN_REVIEW
    signoffs = {s.dimension: s for s in full.signoffs.all()}
    assert {d: s.state for d, s in signoffs.items()} == dict.fromkeys(
        ["iam", "pam", "security", "compliance"], SignOffState.PENDING
    )
    assert signoffs["iam"].review_reason == SUSPENDED_REASON
    agent.refresh_from_db()
    set_aside = Decision.objects.filter(pk__in=before)
    assert {d.set_aside_at for d in set_aside} == {agent.suspended_at}

    # The last dimension's approval does not approve the package on the others' old decisions.
    workflow.decide(full, "compliance")
    full.refresh_from_db()
    agent.refresh_from_db()
    assert full.state == PackageState.IN_REVIEW
    assert agent.suspended_at is not None
    result = gate_check(actor=Actor.system("ci"), agent_slug=agent.slug, digest=full.digest)
    assert "agent_suspended" in [reason["code"] for reason in result.reasons]

    # The same reviewers decide again after the incident; then it is approved and lifts it.
    for dimension in ("iam", "pam", "security"):
        for reviewer in reviewers[dimension][: 2 if dimension == "security" else 1]:
            workflow.decide(full, dimension, reviewer)
    full.refresh_from_db()
    agent.refresh_from_db()
    assert full.state == PackageState.APPROVED
    assert agent.suspended_at is None and agent.status == AgentStatus.APPROVED
    standing = Decision.objects.filter(signoff__package=full, set_aside_at__isnull=True)
    assert standing.count() == 5 and not set(standing.values_list("pk", flat=True)) & before


def test_a_partial_quorum_is_set_aside_too(workflow, agent, staff, reviewers):
    workflow.approve(agent)
    full = workflow.submit(agent, _expansion(agent))
    workflow.decide(full, "security", reviewers["security"][0])  # one of the two it needs
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 47.")
    workflow.decide(full, "security", reviewers["security"][1])
    security = full.signoffs.get(dimension="security")
    assert security.state == SignOffState.PENDING
    assert security.decisions.filter(set_aside_at__isnull=True).count() == 1


def test_a_suspension_with_nothing_decided_reopens_nothing(workflow, agent, staff, audit_since):
    workflow.approve(agent)
    full = workflow.submit(agent, _expansion(agent))
    since = audit_since()
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 48.")
    assert [e.action for e in since()] == ["package.revoked", "agent.suspended"]
    assert not Notification.objects.filter(event="package.signoffs_reopened").exists()
    assert set(full.signoffs.values_list("state", flat=True)) == {SignOffState.PENDING}


def test_a_decision_set_aside_does_not_count_for_who_may_decide(workflow, agent, staff, reviewers):
    """Its reviewer decides the dimension again; another dimension, as before, they do not."""
    workflow.approve(agent)
    full = workflow.submit(agent, _expansion(agent))
    iam = reviewers["iam"][0]
    workflow.decide(full, "iam", iam)
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 49.")
    signoff = full.signoffs.get(dimension="iam")
    assert can_decide(iam, signoff)
    workflow.decide(full, "iam", iam)
    with pytest.raises(NotPermitted) as refused:
        workflow.decide(full, "iam", iam)
    assert refused.value.code == "already_decided"
