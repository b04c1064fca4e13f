"""A mail names its recipients when its event happens and goes out later: someone deactivated
in between gets none of it."""

import pytest
from django.core import mail

from agents.membership import Source, user_flags_set
from approvals.delegation import signoff_reassign
from audit.actors import Actor
from outbox import tasks
from outbox.models import Notification

pytestmark = pytest.mark.django_db


def test_a_reviewer_deactivated_before_the_mail_goes_gets_none(workflow, agent, reviewers, staff):
    security1, security2 = reviewers["security"]
    security1.email, security2.email = "s1@example.com", "s2@example.com"
    security1.save(update_fields=["email"])
    security2.save(update_fields=["email"])
    package = workflow.submit(agent)
    actor = Actor.for_user(staff)
    for reviewer in (security1, security2):
        signoff_reassign(
            actor=actor, package=package, dimension="security", user=reviewer, reason="Rota"
        )
    user_flags_set(security1, actor=actor, source=Source.PAGE, is_active=False)

    for notification in Notification.objects.filter(event="signoff.reassigned"):
        tasks.notification_dispatch.apply(args=[notification.pk]).get()

    recipients = Notification.objects.filter(event="signoff.reassigned").order_by("pk")
    assert [n.email_recipients for n in recipients] == [[], ["s2@example.com"]]
    assert [message.to for message in mail.outbox] == [["s2@example.com"]]
