"""Celery jobs that send what the outbox holds: webhooks, mail, and the sweep for what is left.

Each is thin and idempotent: the services lock the rows they send and skip
what was already sent or is not due, so a repeated message changes nothing.
The webhooks of a notification are queued before its mail is tried, so a mail
server that is down delays no webhook.
"""

from celery import shared_task

from audit.actors import Actor
from config.celery import RETRY
from outbox.services import (
    deliveries_enqueue,
    notification_mail,
    notification_prepare,
    notifications_enqueue,
    notifications_prune,
    webhook_attempt,
)
from outbox.services import notifications_sweep as sweep


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90, **RETRY)
def notification_dispatch(notification_id: int) -> None:
    """Queue one notification's webhook deliveries, then send its mail if due."""
    deliveries_enqueue(notification_prepare(notification_id=notification_id))
    notification_mail(notification_id=notification_id)


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=360, **RETRY)
def notifications_dispatch(notification_ids: list[int]) -> None:
    """Queue a batch's webhooks (one message per drift batch), then send its mails.

    After a mail fails the rest wait for the sweep: each would wait as long on the
    same mail server.
    """
    for notification_id in notification_ids:
        deliveries_enqueue(notification_prepare(notification_id=notification_id))
    for notification_id in notification_ids:
        if notification_mail(notification_id=notification_id) is False:
            break


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
    """Re-queue what a lost message or a failure left: dispatches, mails and webhooks due."""
    notifications, deliveries = sweep()
    notifications_enqueue(notifications)
    deliveries_enqueue(deliveries)
    return {"notifications": len(notifications), "deliveries": len(deliveries)}


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=360, **RETRY)
def notifications_prune_old() -> dict:
    """Delete sent notifications past NOTIFICATION_DAYS; running twice deletes nothing more."""
    return notifications_prune(actor=Actor.system("celery:notifications_prune_old"))
