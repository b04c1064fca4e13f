"""Real concurrent transactions on PostgreSQL: no lost decision, no forked chain."""

import copy
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from agents.models import Agent, AgentStatus
from approvals.emergency import emergency_expire
from approvals.models import ApprovalPackage, EmergencyApproval, EmergencyState, PackageState
from approvals.recertification import signoff_escalate
from approvals.reminders import signoff_remind
from approvals.services import agent_suspend, package_create, package_submit
from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from config.errors import InvalidTransition
from outbox.models import Notification
from signoffs.models import Decision, Dimension, SignOffState, Verdict
from tests.approvals.emergency import emergency_grant
from tests.concurrency import chain_held, queued, raced, run_together
from tests.factories import AgentFactory, manifest_for

pytestmark = pytest.mark.django_db(transaction=True)
SYSTEM = Actor.system("tests")


@pytest.mark.parametrize("trial", range(5))
def test_two_reviewers_racing_on_the_last_two_dimensions(workflow, owner, trial):
    agent = AgentFactory(owners=[owner])
    package = workflow.submit(agent)
    workflow.decide(package, Dimension.IAM)
    needed = package.signoffs.get(dimension=Dimension.SECURITY).required_approvals
    for reviewer in workflow.reviewers["security"][:needed]:
        workflow.decide(package, Dimension.SECURITY, reviewer)
    run_together(
        [
            lambda: workflow.decide(package, Dimension.PAM),
            lambda: workflow.decide(package, Dimension.COMPLIANCE),
        ]
    )
    package.refresh_from_db()
    assert package.state == PackageState.APPROVED
    assert Decision.objects.filter(signoff__package=package).count() == 3 + needed
    assert (
        AuditEvent.objects.filter(
            action="package.approved", package_version=1, agent_slug=agent.slug
        ).count()
        == 1
    )


def test_sixteen_concurrent_writers_leave_one_linear_chain(db):
    def writer(n):
        def write():
            for i in range(10):
                with transaction.atomic():
                    audit_record(actor=Actor.system(f"w{n}"), action="test.write", data={"i": i})

        return write

    run_together([writer(n) for n in range(16)])
    events = list(AuditEvent.objects.order_by("seq").values_list("seq", "prev_hash", "hash"))
    assert [seq for seq, _, _ in events] == list(range(1, len(events) + 1))
    assert AuditEvent.objects.filter(action="test.write").count() == 160
    for (_, _, previous), (_, prev_hash, _) in zip(events, events[1:], strict=False):
        assert prev_hash == previous


def test_a_narrowing_submitted_during_a_suspension_waits_for_it(workflow, agent):
    """The submission reads the approval it would carry sign-offs from only once the
    suspension that revokes it has committed, so it does not lift the kill switch."""
    first = workflow.approve(agent)
    narrower = copy.deepcopy(first.manifest)
    narrower["scope"]["tools"] = narrower["scope"]["tools"][:1]
    draft = package_create(actor=SYSTEM, agent=agent, manifest=narrower)
    errors = raced(
        lambda: agent_suspend(actor=SYSTEM, agent=agent, reason="Incident 46."),
        lambda: package_submit(actor=SYSTEM, package=draft),
    )
    assert not errors, errors
    draft.refresh_from_db()
    agent.refresh_from_db()
    assert agent.is_suspended
    assert draft.state == PackageState.IN_REVIEW and not draft.review_plan["carried_over"]


def test_a_draft_made_during_a_suspension_leaves_the_agent_suspended(workflow, agent, owner):
    """The draft derives the agent's status from its row as the suspension left it."""
    workflow.approve(agent)
    agent = Agent.objects.get(pk=agent.pk)  # as a request reads it before the service runs
    errors = raced(
        lambda: agent_suspend(actor=SYSTEM, agent=agent, reason="Incident 7."),
        lambda: package_create(
            actor=Actor.for_user(owner), agent=agent, manifest=manifest_for(agent)
        ),
    )
    assert not errors, errors
    agent = Agent.objects.get(pk=agent.pk)
    assert agent.suspended_at is not None
    assert agent.status == AgentStatus.SUSPENDED


def test_two_agents_approved_at_once_into_one_identity(workflow, owner):
    """Both manifests passed their checks while neither was approved; the final approval
    that commits second is refused, naming the field, and changes nothing."""
    shared = "spiffe://prod.example.com/ns/test/sa/shared"
    packages = []
    for agent in (AgentFactory(owners=[owner]), AgentFactory(owners=[owner])):
        doc = manifest_for(agent)
        doc["identity"]["workload_id"] = shared
        package = workflow.submit(agent, doc)
        for dimension in (Dimension.IAM, Dimension.PAM, Dimension.SECURITY):
            needed = package.signoffs.get(dimension=dimension).required_approvals
            for reviewer in workflow.reviewers[dimension][:needed]:
                workflow.decide(package, dimension, reviewer)
        packages.append(package)
    first, second = packages
    errors = raced(
        lambda: workflow.decide(first, Dimension.COMPLIANCE),
        lambda: workflow.decide(second, Dimension.COMPLIANCE),
    )
    assert [(type(e), getattr(e, "code", "")) for e in errors] == [
        (InvalidTransition, "workload_id_taken")
    ], errors
    assert list(errors[0].fields) == ["manifest.identity.workload_id"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == (PackageState.APPROVED, PackageState.IN_REVIEW)
    assert Agent.objects.get(workload_id=shared) == first.agent


def test_an_emergency_expiring_while_its_package_is_approved_waits_for_the_approval(
    workflow, agent
):
    """The expiry job locks the agent's and the package's rows before the emergency's, as
    the approval does, so it waits for the approval instead of holding the emergency's row
    the approval needs while waiting for the package's."""
    workflow.approve(agent)
    second = workflow.submit(agent, manifest_for(agent, rollback={"plan": "Second."}))
    emergency = emergency_grant(workflow, second)
    EmergencyApproval.objects.filter(pk=emergency.pk).update(
        ends_at=timezone.now() - timedelta(minutes=1)
    )
    (last,) = second.signoffs.filter(state=SignOffState.PENDING)
    with chain_held() as held:
        errors = queued(
            held,
            lambda: workflow.decide(second, last.dimension),
            lambda: emergency_expire(actor=SYSTEM, emergency_id=emergency.pk),
        )
    assert not errors, errors
    second.refresh_from_db()
    assert second.state == PackageState.APPROVED
    # The approval closed it, as expired (its box had ended); the job found it closed.
    assert EmergencyApproval.objects.get(pk=emergency.pk).state == EmergencyState.EXPIRED
    (closed,) = AuditEvent.objects.filter(action="emergency.expired")
    assert closed.actor_label == workflow.reviewers[last.dimension][0].username


@pytest.mark.parametrize("job", ["remind", "escalate"])
def test_a_late_review_rejected_meanwhile_is_neither_reminded_nor_escalated(workflow, agent, job):
    """The reminder and the escalation jobs lock the agent's and the package's rows before
    the sign-off's, so they read the package as the rejection left it."""
    package = workflow.submit(agent)
    ApprovalPackage.objects.filter(pk=package.pk).update(
        submitted_at=timezone.now() - timedelta(days=30)
    )
    pam = package.signoffs.get(dimension=Dimension.PAM)
    chase = {
        "remind": lambda: signoff_remind(actor=SYSTEM, signoff=pam),
        "escalate": lambda: signoff_escalate(actor=SYSTEM, signoff=pam),
    }[job]
    errors = raced(
        lambda: workflow.decide(
            package, Dimension.IAM, verdict=Verdict.REJECT, comment="No identity."
        ),
        chase,
    )
    assert not errors, errors
    assert ApprovalPackage.objects.get(pk=package.pk).state == PackageState.REJECTED
    assert not AuditEvent.objects.filter(action__in=["signoff.reminded", "signoff.escalated"])
    assert not Notification.objects.filter(event__in=["signoff.reminder", "signoff.escalated"])


def test_a_decision_while_another_agent_is_submitted_commits_after_it(workflow, owner):
    """A decision locks its sign-off's row, not its checklist's: a submission's new
    sign-offs name that checklist, which PostgreSQL checks at their commit."""
    reviewing, submitted = AgentFactory(owners=[owner]), AgentFactory(owners=[owner])
    package = workflow.submit(reviewing)
    errors = raced(
        lambda: workflow.submit(submitted),
        lambda: workflow.decide(package, "iam"),
    )
    assert not errors, errors
    actions = list(
        AuditEvent.objects.filter(action__in=["package.submitted", "signoff.decided"])
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["package.submitted", "signoff.decided"]


def test_an_agent_suspended_while_a_token_is_bound_to_it_is_suspended_after(
    workflow, agent, owner, make_token
):
    """A suspension locks the agent's row without changing its key: a token bound to the
    agent meanwhile names it, which PostgreSQL checks at the token's commit."""
    errors = raced(
        lambda: make_token(owner, agents=[agent]),
        lambda: agent_suspend(actor=SYSTEM, agent=agent, reason="Incident 47."),
    )
    assert not errors, errors
    actions = list(
        AuditEvent.objects.filter(action__in=["token.created", "agent.suspended"])
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["token.created", "agent.suspended"]
