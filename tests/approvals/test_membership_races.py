"""A reviewer's groups or account changed while they decide: the decision waits and sees it.

A membership change locks the user's row until it commits; a decision locks
its decider's row before asking whether they may decide, so a removal or a
deactivation under way refuses the decision rather than landing just before it
in the audit chain.
"""

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from agents.membership import Source, reviewer_assign, user_flags_set, user_groups_change
from approvals.comments import comment_create
from approvals.delegation import signoff_reassign
from approvals.emergency import emergency_approve, emergency_request
from approvals.findings import finding_acknowledge
from approvals.models import (
    ApprovalPackage,
    Comment,
    DriftFinding,
    EmergencyApproval,
    FindingStatus,
    PackageState,
)
from approvals.narrowing import package_narrow
from approvals.retirement import agent_retire
from approvals.services import package_create, package_submit, package_update_draft
from audit.actors import Actor
from audit.models import AuditEvent
from config.errors import InvalidInput, NotPermitted
from signoffs.models import Decision, Dimension, SignOffState
from tests.concurrency import chain_held, queued, raced
from tests.factories import AgentFactory, DriftFindingFactory, manifest_for

pytestmark = pytest.mark.django_db(transaction=True)
STAFF = Actor.system("staff")


def _refused(errors, code: str) -> bool:
    return [(type(e), e.code) for e in errors] == [(NotPermitted, code)]


def test_a_decision_racing_the_deciders_removal_from_the_group_is_refused(workflow, owner):
    package = workflow.submit(AgentFactory(owners=[owner]))
    reviewer = workflow.reviewers["iam"][0]
    errors = raced(
        lambda: user_groups_change(reviewer, actor=STAFF, source=Source.COMMAND, remove=["iam"]),
        lambda: workflow.decide(package, Dimension.IAM, reviewer),
    )
    assert _refused(errors, "not_reviewer"), errors
    assert not Decision.objects.filter(signoff__package=package).exists()
    assert package.signoffs.get(dimension=Dimension.IAM).state == SignOffState.PENDING


def test_a_final_approval_racing_the_deciders_deactivation_is_refused(workflow, owner):
    package = workflow.submit(AgentFactory(owners=[owner]))
    for dimension in (Dimension.IAM, Dimension.PAM, Dimension.SECURITY):
        needed = package.signoffs.get(dimension=dimension).required_approvals
        for reviewer in workflow.reviewers[dimension][:needed]:
            workflow.decide(package, dimension, reviewer)
    assert package.signoffs.get(dimension=Dimension.COMPLIANCE).required_approvals == 1
    reviewer = workflow.reviewers["compliance"][0]
    errors = raced(
        lambda: user_flags_set(reviewer, actor=STAFF, source=Source.COMMAND, is_active=False),
        lambda: workflow.decide(package, Dimension.COMPLIANCE, reviewer),
    )
    assert _refused(errors, "not_authenticated"), errors
    package.refresh_from_db()
    assert package.state == PackageState.IN_REVIEW
    assert not Decision.objects.filter(reviewer=reviewer).exists()


def test_an_emergency_approval_racing_the_approvers_removal_is_refused(workflow, owner):
    package = workflow.submit(AgentFactory(owners=[owner]))
    emergency = emergency_request(
        actor=Actor.for_user(owner), package=package, reason="Incident 12 needs the fix."
    )
    reviewer = workflow.reviewers["security"][0]
    errors = raced(
        lambda: user_groups_change(
            reviewer, actor=STAFF, source=Source.COMMAND, remove=["security"]
        ),
        lambda: emergency_approve(
            actor=Actor.for_user(reviewer), package=package, dimension=Dimension.SECURITY
        ),
    )
    assert _refused(errors, "not_reviewer"), errors
    assert EmergencyApproval.objects.get(pk=emergency.pk).security_approver is None


def test_a_finding_handled_while_the_handler_leaves_security_is_refused(workflow, agent):
    package = workflow.approve(agent)
    finding = DriftFindingFactory(agent=agent, package=package)
    reviewer = workflow.reviewers["security"][0]
    errors = raced(
        lambda: user_groups_change(
            reviewer, actor=STAFF, source=Source.COMMAND, remove=["security"]
        ),
        lambda: finding_acknowledge(actor=Actor.for_user(reviewer), finding=finding),
    )
    assert _refused(errors, "not_security"), errors
    assert DriftFinding.objects.get(pk=finding.pk).status == FindingStatus.OPEN


def test_an_assignment_racing_the_reviewers_removal_from_the_group_is_refused(workflow, owner):
    agent = AgentFactory(owners=[owner])
    reviewer = workflow.reviewers["iam"][0]
    errors = raced(
        lambda: user_groups_change(reviewer, actor=STAFF, source=Source.COMMAND, remove=["iam"]),
        lambda: reviewer_assign(
            actor=STAFF, agent=agent, user=reviewer, permission="review_iam", source=Source.PAGE
        ),
    )
    assert [(type(e), e.code) for e in errors] == [(InvalidInput, "not_reviewer")], errors
    assert not reviewer.has_perm("agents.review_iam", agent)


def test_a_reassignment_racing_the_reviewers_deactivation_is_refused(workflow, owner, staff):
    package = workflow.submit(AgentFactory(owners=[owner]))
    reviewer = workflow.reviewers["pam"][1]
    errors = raced(
        lambda: user_flags_set(reviewer, actor=STAFF, source=Source.COMMAND, is_active=False),
        lambda: signoff_reassign(
            actor=Actor.for_user(staff),
            package=package,
            dimension=Dimension.PAM,
            user=reviewer,
            reason="Covering a leave.",
        ),
    )
    assert [type(e) for e in errors] == [InvalidInput], errors
    assert package.signoffs.get(dimension=Dimension.PAM).assigned_to is None


def test_a_decision_reopening_a_lapsed_carry_over_and_a_group_change_of_its_decider(
    workflow, agent
):
    """The decision locks its decider's row before it writes anything (re-opening what the
    review carried from a lapsed approval is audited first): a change of the decider's
    groups at the same moment waits for it, instead of holding the decider's row while
    waiting for the audit chain's lock the decision holds."""
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    second = workflow.submit(agent, doc)
    ApprovalPackage.objects.filter(pk=first.pk).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    reviewer = workflow.reviewers["compliance"][0]
    with chain_held() as held:
        errors = queued(
            held,
            lambda: workflow.decide(second, Dimension.COMPLIANCE, reviewer),
            lambda: user_groups_change(reviewer, actor=STAFF, source=Source.COMMAND, add=["iam"]),
        )
    assert not errors, errors
    assert second.signoffs.get(dimension=Dimension.COMPLIANCE).state == SignOffState.APPROVED
    assert second.signoffs.filter(state=SignOffState.PENDING).count() == 3


def test_a_comment_racing_its_authors_deactivation_is_refused(workflow, owner):
    package = workflow.submit(AgentFactory(owners=[owner]))
    errors = raced(
        lambda: user_flags_set(owner, actor=STAFF, source=Source.COMMAND, is_active=False),
        lambda: comment_create(actor=Actor.for_user(owner), package=package, body="Still here?"),
    )
    assert _refused(errors, "not_authenticated"), errors
    assert not Comment.objects.filter(package=package).exists()


# What a staff member who owns no agent may do to one as staff, given the agent, a draft of
# it and the workflow: each decides from their staff status under their row lock.
STAFF_WRITES = {
    "create": lambda actor, agent, draft: package_create(
        actor=actor, agent=agent, manifest=manifest_for(agent)
    ),
    "update": lambda actor, agent, draft: package_update_draft(
        actor=actor, package=draft, manifest=manifest_for(agent)
    ),
    "submit": lambda actor, agent, draft: package_submit(actor=actor, package=draft),
    "emergency": lambda actor, agent, draft: emergency_request(
        actor=actor, package=draft, reason="Incident 12 needs the fix."
    ),
    "narrow": lambda actor, agent, draft: package_narrow(actor=actor, agent=agent),
    "retire": lambda actor, agent, draft: agent_retire(
        actor=actor, agent=agent, reason="Replaced by the new bot."
    ),
}


@pytest.mark.parametrize("write", sorted(STAFF_WRITES))
def test_a_staff_write_racing_the_removal_of_staff_status_is_refused(workflow, agent, staff, write):
    """The signed-in user is read as the request began; the write decides from their row
    re-read under its lock, which the change holds until it commits."""
    draft = workflow.create(agent)
    errors = raced(
        lambda: user_flags_set(staff, actor=STAFF, source=Source.COMMAND, is_staff=False),
        lambda: STAFF_WRITES[write](Actor.for_user(staff), agent, draft),
    )
    assert _refused(errors, "not_owner"), errors
    assert not AuditEvent.objects.filter(actor_id=str(staff.pk)).exists()
