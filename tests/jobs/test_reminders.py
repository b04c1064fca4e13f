"""Every pending sign-off is reminded daily; past the target it escalates to fallbacks and staff."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from agents.membership import Source, reviewer_assign
from approvals import tasks
from approvals.models import ApprovalPackage
from approvals.recertification import reviews_escalate_late
from approvals.reminders import reminder_key, reviews_remind_pending
from audit.actors import Actor
from audit.models import AuditEvent
from outbox.models import Notification, Reminder
from outbox.services import notification_mail, notification_prepare
from tests.approvals.delegation import away
from tests.jobs.conftest import wait_for

ACTOR = Actor.system("celery:reviews_remind")
REMIND = "approvals.tasks.reviews_remind"
SITE = settings.COUNTERSIGN["SITE_URL"]


def _days_ago(package, days):
    ApprovalPackage.objects.filter(pk=package.pk).update(
        submitted_at=timezone.now() - timedelta(days=days)
    )


def _assign(agent, staff, user, permission):
    reviewer_assign(
        actor=Actor.for_user(staff),
        agent=agent,
        user=user,
        permission=permission,
        source=Source.PAGE,
    )


@pytest.mark.django_db
def test_each_pending_signoff_is_reminded_once_a_day(
    workflow, agent, reviewers, staff, audit_since
):
    pam1, pam2 = reviewers["pam"]
    _assign(agent, staff, pam1, "review_pam")
    away(pam1, pam2, "pam", since=timedelta(days=1), until=timedelta(days=3))
    package = workflow.submit(agent)
    workflow.decide(package, "iam")
    assert reviews_remind_pending(actor=ACTOR).done == []  # submitted less than a day ago
    _days_ago(package, 2)

    since = audit_since()
    run = reviews_remind_pending(actor=ACTOR)
    assert sorted(label.split()[-1] for label in run.done) == ["compliance", "pam", "security"]
    events = since()
    assert [e.action for e in events] == ["signoff.reminded"] * 3
    pam = next(e for e in events if e.data["dimension"] == "pam")
    # The assigned reviewer and, during the absence, their delegate.
    assert pam.data["reviewers"] == ["pam1", "pam2"] and pam.data["overdue"] is False
    notes = Notification.objects.filter(event="signoff.reminder")
    assert notes.count() == 3
    note = next(n for n in notes if n.payload["data"]["dimension"] == "pam")
    assert note.payload["data"]["recipients"] == ["pam1@example.com", "pam2@example.com"]
    assert note.payload["url"] == f"{SITE}/agents/support-assistant/v1/"

    # A re-run the same day sends nothing; the next day reminds again.
    assert reviews_remind_pending(actor=ACTOR).done == []
    assert len(since()) == 3
    tomorrow = reviews_remind_pending(actor=ACTOR, now=timezone.now() + timedelta(days=1))
    assert len(tomorrow.done) == 3
    # Only the day's keys are kept: a sign-off pending for months leaves no row per day.
    day = (timezone.now() + timedelta(days=1)).date()
    assert sorted(Reminder.objects.values_list("key", flat=True)) == sorted(
        reminder_key(signoff.pk, day) for signoff in package.signoffs.exclude(dimension="iam")
    )


@pytest.mark.django_db
def test_the_reminder_mail_names_the_package_the_reviewers_and_links_to_the_page(workflow, agent):
    package = workflow.submit(agent)
    _days_ago(package, 2)
    reviews_remind_pending(actor=ACTOR)
    note = Notification.objects.filter(event="signoff.reminder").first()
    notification_prepare(notification_id=note.pk)
    notification_mail(notification_id=note.pk)
    [message] = [m for m in mail.outbox if note.payload["data"]["dimension"] in m.body]
    assert message.subject == "[Countersign] A review waits for you: support-assistant"
    assert "Package version: v1" in message.body
    assert "Reviewers: " in message.body
    assert f"Open the page: {SITE}/agents/support-assistant/v1/" in message.body
    assert sorted(message.to) == sorted(note.payload["data"]["recipients"])


@pytest.mark.django_db
def test_escalation_goes_to_the_fallback_reviewers_and_staff(
    workflow, agent, reviewers, staff, audit_since
):
    pam1, pam2 = reviewers["pam"]
    _assign(agent, staff, pam1, "review_pam")
    _assign(agent, staff, pam2, "fallback_pam")
    package = workflow.submit(agent)
    _days_ago(package, 6)
    since = audit_since()
    reviews_escalate_late(actor=Actor.system("celery:reviews_escalate"))
    pam = next(e for e in since() if e.data["dimension"] == "pam")
    assert pam.data["escalated_to"] == ["pam2"] and pam.data["to_fallbacks"] is True
    assert pam.data["staff"] == ["staff"]
    note = next(
        n
        for n in Notification.objects.filter(event="signoff.escalated")
        if n.payload["data"]["dimension"] == "pam"
    )
    assert note.payload["data"]["recipients"] == ["pam2@example.com", "staff@example.com"]
    reminded = reviews_remind_pending(actor=ACTOR)
    assert len(reminded.done) == 4
    overdue = AuditEvent.objects.filter(action="signoff.reminded", data__dimension="pam").get()
    assert overdue.data["overdue"] is True and overdue.data["reviewers"] == ["pam1"]


@pytest.mark.django_db(transaction=True)
def test_reminders_run_on_a_worker_and_mail_the_reviewers(workflow, agent, celery_worker):
    package = workflow.submit(agent)
    _days_ago(package, 2)
    worker = celery_worker()
    tasks.reviews_remind.delay()
    tasks.reviews_remind.delay()
    wait_for(lambda: worker.finished(REMIND) == 2, message="two reminder runs")
    assert AuditEvent.objects.filter(action="signoff.reminded").count() == 4
    sent = wait_for(
        lambda: (
            Notification.objects.filter(
                event="signoff.reminder", dispatched_at__isnull=False
            ).count()
            == 4
        ),
        message="the reminder mails",
    )
    assert sent
    iam = Notification.objects.get(event="signoff.reminder", payload__data__dimension="iam")
    assert iam.email_recipients == ["iam1@example.com", "iam2@example.com"]
    assert AuditEvent.objects.get(action="signoff.reminded", data__dimension="iam").actor_label == (
        "celery:reviews_remind"
    )
