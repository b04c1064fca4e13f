"""Reviews pending past the SLA escalate to the dimension's other reviewers, once."""

from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from approvals.models import ApprovalPackage
from approvals.recertification import reviews_escalate_late
from audit.actors import Actor
from outbox.models import Notification
from signoffs.models import Verdict

pytestmark = pytest.mark.django_db

ACTOR = Actor.system("celery:reviews_escalate")


def test_late_pending_signoffs_escalate_once(workflow, agent, reviewers, audit_since):
    package = workflow.submit(agent)
    workflow.decide(package, "iam", verdict=Verdict.APPROVE)
    assign_perm("agents.review_pam", reviewers["pam"][0], agent)
    ApprovalPackage.objects.filter(pk=package.pk).update(
        submitted_at=timezone.now() - timedelta(days=6)
    )
    since = audit_since()
    run = reviews_escalate_late(actor=ACTOR)
    assert sorted(label.split()[-1] for label in run.done) == ["compliance", "pam", "security"]
    events = since()
    assert [e.action for e in events] == ["signoff.escalated"] * 3
    assert {e.actor_label for e in events} == {"celery:reviews_escalate"}
    by_dimension = {e.data["dimension"]: e.data["escalated_to"] for e in events}
    # pam1 is the assigned reviewer the review waited for: the others are told.
    assert by_dimension["pam"] == ["pam2"]
    assert by_dimension["security"] == ["security1", "security2"]
    notes = Notification.objects.filter(event="signoff.escalated")
    assert notes.count() == 3
    pam = next(n for n in notes if n.payload["data"]["dimension"] == "pam")
    assert pam.payload["data"]["recipients"] == ["pam2@example.com"]

    assert reviews_escalate_late(actor=ACTOR).done == []
    assert [e.action for e in since()] == ["signoff.escalated"] * 3


def test_recent_reviews_do_not_escalate(workflow, agent):
    workflow.submit(agent)
    assert reviews_escalate_late(actor=ACTOR).done == []


def test_each_dimension_is_late_by_its_own_target(workflow, agent, settings, audit_since):
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "REVIEW_SLA_DAYS": 5,
        "REVIEW_SLA_DAYS_BY_DIMENSION": {"security": 2, "compliance": 10},
    }
    package = workflow.submit(agent)
    ApprovalPackage.objects.filter(pk=package.pk).update(
        submitted_at=timezone.now() - timedelta(days=3)
    )
    since = audit_since()
    assert [label.split()[-1] for label in reviews_escalate_late(actor=ACTOR).done] == ["security"]
    ApprovalPackage.objects.filter(pk=package.pk).update(
        submitted_at=timezone.now() - timedelta(days=7)
    )
    later = sorted(label.split()[-1] for label in reviews_escalate_late(actor=ACTOR).done)
    assert later == ["iam", "pam"]  # compliance waits 10 days; security was escalated once
    events = {e.data["dimension"]: e.data["sla_days"] for e in since()}
    assert events == {"security": 2, "iam": 5, "pam": 5}
