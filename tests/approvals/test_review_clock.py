"""A re-opened sign-off's review target counts from its re-opening, not the submission.

A suspension re-opens what a review decided, a lapsed approval what a review
carried over: the reviewers are asked to decide again then, so neither the
fallback reviewers, the reminders nor the escalation treat the sign-off as
waiting since the submission.
"""

import copy
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from agents.membership import Source, reviewer_assign
from approvals.models import ApprovalPackage
from approvals.recertification import approvals_expire_due, reviews_escalate_late
from approvals.reminders import reviews_remind_pending
from approvals.services import agent_suspend
from audit.actors import Actor
from config.errors import NotPermitted
from outbox.models import Reminder
from signoffs.models import SignOff, SignOffState
from signoffs.permissions import can_decide
from signoffs.sla import overdue_by, overdue_since, review_started_at, started_by
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


def _expansion(agent):
    wider = manifest_for(agent)
    wider["scope"]["tools"].append({"id": "refund-issue-2", "access": "read", "justification": "x"})
    return wider


def _rollback_changed(doc):
    doc = copy.deepcopy(doc)
    doc["rollback"]["plan"] = "Redeploy v1."
    return doc


def _submitted_days_ago(package, days):
    ApprovalPackage.objects.filter(pk=package.pk).update(
        submitted_at=timezone.now() - timedelta(days=days)
    )


def _fallback(agent, staff, user):
    reviewer_assign(
        actor=Actor.for_user(staff),
        agent=agent,
        user=user,
        permission="fallback_pam",
        source=Source.PAGE,
    )


def _dimensions(run):
    return sorted(label.split()[-1] for label in run.done)


def _assert_counts_from_the_reopening(workflow, package, fallback, late, since_reopening):
    """Hold the re-opened PAM sign-off on time, then let its target pass from the re-opening;
    `late` names the dimensions already overdue since the submission."""
    pam = package.signoffs.select_related("package").get(dimension="pam")
    assert pam.state == SignOffState.PENDING
    assert pam.reopened_at is not None and pam.reopened_at > pam.package.submitted_at
    assert overdue_since(pam) > timezone.now()
    assert not can_decide(fallback, pam)
    with pytest.raises(NotPermitted) as refused:
        workflow.decide(package, "pam", fallback)
    assert refused.value.code == "not_assigned"
    assert _dimensions(reviews_escalate_late(actor=SYSTEM)) == late
    # Reminded from a day after the re-opening on, as from a day after a submission.
    assert _dimensions(reviews_remind_pending(actor=SYSTEM)) == late

    SignOff.objects.filter(pk=pam.pk).update(reopened_at=timezone.now() - since_reopening)
    pam = package.signoffs.select_related("package").get(dimension="pam")
    assert overdue_since(pam) <= timezone.now()
    assert can_decide(fallback, pam)
    assert _dimensions(reviews_escalate_late(actor=SYSTEM)) == ["pam"]
    assert "pam" in _dimensions(reviews_remind_pending(actor=SYSTEM, now=timezone.now()))


def test_a_suspension_restarts_the_review_clock_of_what_it_reopens(
    workflow, agent, assigned, staff, reviewers
):
    pam1, pam2 = assigned
    _fallback(agent, staff, pam2)
    workflow.approve(agent)
    full = workflow.submit(agent, _expansion(agent))  # a review in full
    workflow.decide(full, "pam", pam1)
    _submitted_days_ago(full, 6)  # past the 5 days' target
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 50.")
    _assert_counts_from_the_reopening(
        workflow, full, pam2, ["compliance", "iam", "security"], timedelta(days=5)
    )


def test_a_lapsed_approval_restarts_the_review_clock_of_what_it_reopens(
    workflow, agent, assigned, staff
):
    pam2 = assigned[1]
    _fallback(agent, staff, pam2)
    first = workflow.approve(agent)
    second = workflow.submit(agent, _rollback_changed(first.manifest))  # pam carried over
    _submitted_days_ago(second, 6)
    ApprovalPackage.objects.filter(pk=first.pk).update(
        expires_at=timezone.now() - timedelta(hours=1)
    )
    assert approvals_expire_due(actor=SYSTEM).done == [f"{agent.slug} v1"]
    _assert_counts_from_the_reopening(workflow, second, pam2, ["compliance"], timedelta(days=5))


def test_a_signoff_escalated_before_a_suspension_escalates_again_once_late_again(
    workflow, agent, assigned, staff
):
    pam1 = assigned[0]
    workflow.approve(agent)
    full = workflow.submit(agent, _expansion(agent))
    _submitted_days_ago(full, 12)
    assert "pam" in _dimensions(reviews_escalate_late(actor=SYSTEM))
    workflow.decide(full, "pam", pam1)
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 51.")
    assert _dimensions(reviews_escalate_late(actor=SYSTEM)) == []
    # The escalation went out seven days ago, the suspension re-opened it past the target.
    pam = full.signoffs.get(dimension="pam")
    Reminder.objects.filter(key=f"signoff-escalated:{pam.pk}").update(
        sent_at=timezone.now() - timedelta(days=7)
    )
    SignOff.objects.filter(pk=pam.pk).update(reopened_at=timezone.now() - timedelta(days=6))
    assert _dimensions(reviews_escalate_late(actor=SYSTEM)) == ["pam"]
    assert _dimensions(reviews_escalate_late(actor=SYSTEM)) == []


def test_the_queries_count_the_review_clock_as_overdue_since_does(workflow, agent, staff):
    """`overdue_by` and `started_by` are the query forms of `overdue_since` and
    `review_started_at`: each sign-off is in them exactly when the Python form says."""
    workflow.approve(agent)
    package = workflow.submit(agent, _expansion(agent))
    now = timezone.now()
    _submitted_days_ago(package, 6)
    moments = {
        "iam": None,  # counts from the submission, six days ago: overdue
        "pam": now - timedelta(days=1),  # re-opened yesterday: on time
        "security": now - timedelta(days=5, seconds=1),  # re-opened past the target
        "compliance": now + timedelta(days=1),  # not started by `now`
    }
    for dimension, moment in moments.items():
        SignOff.objects.filter(package=package, dimension=dimension).update(reopened_at=moment)
    signoffs = SignOff.objects.filter(package=package).select_related("package")
    overdue = {s.dimension for s in signoffs if overdue_since(s) <= now}
    assert overdue == {"iam", "security"}
    assert {s.dimension for s in overdue_by(signoffs, now)} == overdue
    for moment in (now - timedelta(days=2), now):
        started = {s.dimension for s in signoffs if review_started_at(s) <= moment}
        assert {s.dimension for s in started_by(signoffs, moment)} == started
    assert {s.dimension for s in started_by(signoffs, now)} == {"iam", "pam", "security"}


def test_the_target_counts_calendar_days_to_the_second(workflow, agent, settings):
    """The reviewer's guide's example: submitted on a Friday at 16:00 UTC with a 5-day target,
    overdue on the Wednesday at 16:00 UTC, the weekend and the month's end counted alike; the
    query form agrees at that instant and the second before."""
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "REVIEW_SLA_DAYS": 5}
    settings.COUNTERSIGN["REVIEW_SLA_DAYS_BY_DIMENSION"] = {}
    package = workflow.submit(agent)
    friday = datetime(2026, 2, 27, 16, 0, tzinfo=UTC)
    ApprovalPackage.objects.filter(pk=package.pk).update(submitted_at=friday)
    signoffs = SignOff.objects.filter(package=package).select_related("package")
    wednesday = datetime(2026, 3, 4, 16, 0, tzinfo=UTC)
    assert {overdue_since(s) for s in signoffs} == {wednesday}
    assert not overdue_by(signoffs, wednesday - timedelta(seconds=1)).exists()
    assert overdue_by(signoffs, wednesday).count() == len(signoffs) == 4
