"""Celery jobs that send what the outbox holds: mail, webhooks, and the sweep for lost messages.

Each is thin and idempotent: the services lock the rows they send and skip
what was already sent, so a repeated message changes nothing.
"""

from celery import shared_task

from config.celery import RETRY
from outbox.services import (
    deliveries_enqueue,
    notification_send,
    notifications_enqueue,
    webhook_attempt,
)
from outbox.services import notifications_sweep as sweep


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90, **RETRY)
def notification_dispatch(notification_id: int) -> None:
    """Mail one notification and queue its webhook deliveries."""
    deliveries_enqueue(notification_send(notification_id=notification_id))


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=360, **RETRY)
def notifications_dispatch(notification_ids: list[int]) -> None:
    """Mail a batch of notifications (one message per drift batch); queue their webhooks."""
    for notification_id in notification_ids:
        deliveries_enqueue(notification_send(notification_id=notification_id))


@shared_task(
    bind=True,
    ignore_result=True,
    acks_late=False,
    soft_time_limit=30,
    time_limit=45,
    max_retries=10,
)
def webhook_deliver(self, delivery_id: int) -> None:
    """Send one webhook delivery if due; after a failure, retry with the recorded backoff."""
    retry_in = webhook_attempt(delivery_id=delivery_id)
    if retry_in is not None and self.request.retries < self.max_retries:
        raise self.retry(countdown=retry_in)


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90, **RETRY)
def notifications_sweep() -> dict:
    """Re-queue notifications and deliveries whose queue message was lost or never sent."""
    notifications, deliveries = sweep()
    notifications_enqueue(notifications)
    deliveries_enqueue(deliveries)
    return {"notifications": len(notifications), "deliveries": len(deliveries)}
