"""A decision a suspension set aside stays in the history and counts for nothing after it: not
for who may decide a later version that carries its sign-off over, nor for what carries over."""

import copy

import pytest
from django.contrib.auth.models import Group

from approvals.models import PackageState
from approvals.ownership import agent_update
from audit.actors import Actor
from signoffs.models import Decision, Dimension, SignOffState
from signoffs.permissions import can_decide
from web.selectors import packages_awaiting

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved_after_suspension(workflow, agent, staff):
    """v2, a review in full, approved after a suspension set pam1's PAM decision aside;
    pam2 decided PAM again, and the others decided after the suspension."""
    full = workflow.approve_after_suspension(agent, Dimension.PAM, Actor.for_user(staff))
    assert full.state == PackageState.APPROVED
    assert full.signoffs.get(dimension="pam").decisions.count() == 2
    return full


def test_a_set_aside_decision_of_a_later_owner_does_not_reopen_its_dimension(
    workflow, agent, owner, reviewers, approved_after_suspension
):
    """PAM stands on pam2's decision alone: pam1 owning the agent does not concern it."""
    agent_update(actor=Actor.for_user(owner), agent=agent, owners=[owner, reviewers["pam"][0]])
    narrow = copy.deepcopy(approved_after_suspension.manifest)
    narrow["scope"]["datasets"].pop()
    third = workflow.submit(agent, narrow)
    assert third.review_plan["reopened"] == {}
    assert third.signoffs.get(dimension="pam").state == SignOffState.CARRIED_OVER
    assert third.state == PackageState.APPROVED


def test_a_set_aside_decision_carried_over_does_not_keep_its_reviewer_out_of_the_queue(
    workflow, agent, reviewers, approved_after_suspension
):
    """pam1 may decide another dimension of a version carrying PAM over: the queue offers it."""
    pam1 = reviewers["pam"][0]
    pam1.groups.add(Group.objects.get(name="compliance"))
    doc = copy.deepcopy(approved_after_suspension.manifest)
    doc["rollback"]["plan"] = "Redeploy v2."
    third = workflow.submit(agent, doc)
    assert third.signoffs.get(dimension="pam").state == SignOffState.CARRIED_OVER
    compliance = third.signoffs.get(dimension="compliance")
    assert compliance.state == SignOffState.PENDING
    assert can_decide(pam1, compliance)
    assert packages_awaiting(pam1).filter(pk=compliance.pk).exists()
    # A standing decision carried over still keeps its reviewer out.
    pam2 = reviewers["pam"][1]
    pam2.groups.add(Group.objects.get(name="compliance"))
    assert not can_decide(pam2, compliance)
    assert not packages_awaiting(pam2).filter(pk=compliance.pk).exists()


def test_a_decision_stands_in_python_as_in_the_database(approved_after_suspension):
    """`Decision.stands` and `standing()` say the same of each decision."""
    decisions = Decision.objects.filter(signoff__package=approved_after_suspension)
    assert any(not decision.stands for decision in decisions)
    assert {d.pk for d in decisions if d.stands} == set(
        decisions.standing().values_list("pk", flat=True)
    )
