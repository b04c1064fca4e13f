"""Every refusal of the who-may-decide rules (docs/design.md, rules 2 and 3)."""

import pytest
from guardian.shortcuts import assign_perm

from approvals.models import PackageState
from approvals.services import signoff_decide
from audit.actors import Actor
from config.errors import InvalidInput, InvalidTransition, NotPermitted
from signoffs.models import Decision, Dimension, Verdict
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def refuse(workflow, package, user, dimension, code, error=NotPermitted, audit_since=None):
    since = audit_since()
    with pytest.raises(error) as raised:
        signoff_decide(
            actor=Actor.for_user(user),
            package=package,
            dimension=dimension,
            verdict=Verdict.APPROVE,
            comment="ok",
            answers=workflow.answers(package, dimension),
        )
    assert raised.value.code == code
    assert since() == []
    return raised.value


def test_reviewer_of_another_dimension_is_refused(workflow, agent, audit_since):
    package = workflow.submit(agent)
    iam = workflow.reviewers["iam"][0]
    refuse(workflow, package, iam, Dimension.SECURITY, "not_reviewer", audit_since=audit_since)


def test_product_owner_cannot_stand_in_for_a_reviewer(workflow, agent, other_owner, audit_since):
    package = workflow.submit(agent)
    refuse(workflow, package, other_owner, Dimension.IAM, "not_reviewer", audit_since=audit_since)


def test_submitter_never_signs_off(workflow, agent, audit_since):
    workflow.owner.groups.add(*workflow.reviewers["iam"][0].groups.all())
    package = workflow.submit(agent)
    refuse(workflow, package, workflow.owner, Dimension.IAM, "self_review", audit_since=audit_since)


def test_owner_never_signs_off(workflow, agent, audit_since):
    co_owner = UserFactory(username="co-owner", groups=["pam"])
    agent.owners.add(co_owner)
    package = workflow.submit(agent)
    refuse(workflow, package, co_owner, Dimension.PAM, "owner_review", audit_since=audit_since)


def test_one_person_decides_one_dimension(workflow, agent, audit_since):
    both = UserFactory(username="both", groups=["iam", "pam"])
    package = workflow.submit(agent)
    workflow.decide(package, Dimension.IAM, both)
    refuse(workflow, package, both, Dimension.PAM, "other_dimension", audit_since=audit_since)


def test_nobody_decides_twice(workflow, agent, audit_since):
    package = workflow.submit(agent)
    security = workflow.reviewers["security"][0]
    workflow.decide(package, Dimension.SECURITY, security)
    refuse(
        workflow, package, security, Dimension.SECURITY, "already_decided", audit_since=audit_since
    )


def test_assigned_reviewers_exclude_the_rest_of_the_group(workflow, agent, audit_since):
    assigned, unassigned = workflow.reviewers["compliance"]
    assign_perm("agents.review_compliance", assigned, agent)
    package = workflow.submit(agent)
    refuse(
        workflow, package, unassigned, Dimension.COMPLIANCE, "not_assigned", audit_since=audit_since
    )
    workflow.decide(package, Dimension.COMPLIANCE, assigned)
    assert Decision.objects.filter(reviewer=assigned).count() == 1


def test_decision_on_a_closed_package_is_refused(workflow, agent, audit_since):
    package = workflow.submit(agent)
    workflow.decide(package, Dimension.IAM, verdict=Verdict.REJECT, comment="No.")
    package.refresh_from_db()
    assert package.state == PackageState.REJECTED
    refuse(
        workflow,
        package,
        workflow.reviewers["pam"][0],
        Dimension.PAM,
        "not_in_review",
        error=InvalidTransition,
        audit_since=audit_since,
    )


def test_approve_needs_every_required_item(workflow, agent, audit_since):
    package = workflow.submit(agent)
    since = audit_since()
    answers = workflow.answers(package, Dimension.IAM)
    missing = sorted(answers)[0]
    answers.pop(missing)
    with pytest.raises(InvalidInput) as raised:
        signoff_decide(
            actor=Actor.for_user(workflow.reviewers["iam"][0]),
            package=package,
            dimension=Dimension.IAM,
            verdict=Verdict.APPROVE,
            answers=answers,
        )
    assert f"answers.{missing}" in raised.value.fields
    assert since() == []
    assert not Decision.objects.exists()


def test_refusal_needs_a_comment(workflow, agent):
    package = workflow.submit(agent)
    with pytest.raises(InvalidInput) as raised:
        signoff_decide(
            actor=Actor.for_user(workflow.reviewers["iam"][0]),
            package=package,
            dimension=Dimension.IAM,
            verdict=Verdict.REJECT,
            comment="  ",
        )
    assert "comment" in raised.value.fields
