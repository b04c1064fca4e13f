"""The daily notifications prune: sent notifications past their days go with their deliveries.

What is still being sent (undispatched, a mail to retry, a webhook pending) stays
whatever its age; each prune that deletes some is an audit event.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from audit.verify import audit_verify
from config.schedule import SCHEDULE
from outbox import tasks
from outbox.models import DeliveryStatus, Notification, WebhookDelivery
from outbox.services import NOTIFICATIONS_PRUNED
from tests.factories import AgentFactory
from tests.jobs.test_mail_outage import _suspend
from web.audit_words import event_sentence

pytestmark = pytest.mark.django_db


def test_the_prune_is_scheduled():
    assert SCHEDULE["notifications-prune"]["task"] == "outbox.tasks.notifications_prune_old"


def test_sent_notifications_past_their_days_go_and_those_still_sending_stay(
    workflow, owner, settings
):
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "NOTIFICATION_DAYS": 30}
    suspended = _suspend(workflow, owner)
    for pk in Notification.objects.values_list("pk", flat=True):
        tasks.notification_dispatch.apply(args=[pk]).get()
    (kill_switch,) = WebhookDelivery.objects.filter(notification=suspended)
    assert kill_switch.status == DeliveryStatus.PENDING
    sent = set(Notification.objects.exclude(pk=suspended.pk).values_list("pk", flat=True))
    assert sent and not Notification.objects.filter(dispatched_at__isnull=True).exists()
    now = timezone.now()
    Notification.objects.update(created_at=now - timedelta(days=31))
    mail_due = sent.pop()
    Notification.objects.filter(pk=mail_due).update(mail_next_attempt_at=now)
    # Not dispatched yet, however old; and dispatched but recent.
    workflow.submit(AgentFactory(owners=[owner]))
    undispatched = Notification.objects.get(dispatched_at__isnull=True)
    Notification.objects.filter(pk=undispatched.pk).update(created_at=now - timedelta(days=31))
    workflow.submit(AgentFactory(owners=[owner]))
    recent = Notification.objects.get(dispatched_at__isnull=True, created_at__gt=now)
    tasks.notification_dispatch.apply(args=[recent.pk]).get()
    before = AuditEvent.objects.count()

    assert tasks.notifications_prune_old.apply().get() == {
        "notifications": len(sent),
        "webhook_deliveries": 0,
    }
    assert set(Notification.objects.values_list("pk", flat=True)) == {
        suspended.pk,
        mail_due,
        undispatched.pk,
        recent.pk,
    }

    # Given up: the kill-switch call is in the audit trail, its delivery row may go.
    WebhookDelivery.objects.filter(pk=kill_switch.pk).update(status=DeliveryStatus.FAILED)
    Notification.objects.filter(pk=mail_due).update(mail_next_attempt_at=None)
    assert tasks.notifications_prune_old.apply().get() == {
        "notifications": 2,
        "webhook_deliveries": 1,
    }
    assert tasks.notifications_prune_old.apply().get() == {
        "notifications": 0,
        "webhook_deliveries": 0,
    }
    events = AuditEvent.objects.filter(action=NOTIFICATIONS_PRUNED).order_by("seq")
    assert AuditEvent.objects.count() == before + 2 == before + events.count()
    assert events[0].actor_label == "celery:notifications_prune_old"
    assert events[1].data["days_kept"] == 30
    assert event_sentence(events[1]) == (
        "Countersign (notifications prune old) deleted 2 sent notifications from before "
        f"{events[1].data['older_than']} (30 days are kept) and their 1 webhook deliveries"
    )
    assert audit_verify().ok
