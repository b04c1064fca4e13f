"""Celery jobs that keep approvals current. Each is thin: it takes ids, re-reads, calls a service.

Every job is idempotent and restart-safe: what it does is derived from the
database, and the services lock and re-check the rows they change, so a
second run (or two beats at once) changes nothing. The jobs act as the system
actor `celery:<job>`. Results are not stored: the database is the record.
"""

import logging

from celery import shared_task

from audit.actors import Actor

logger = logging.getLogger(__name__)

# Transient failures (database restart, network) are retried a bounded number
# of times with exponential backoff; domain refusals are not retried. Messages
# are acknowledged on receipt: the database, not the broker, is the record of
# what is left to do (the sweep and the next scheduled run pick up whatever a
# lost message or a killed worker left), and a worker holding no unacknowledged
# message survives a broker outage.
RETRY = {
    "acks_late": False,
    "autoretry_for": (OSError, ConnectionError),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


def _actor(job: str) -> Actor:
    return Actor.system(f"celery:{job}")


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90, **RETRY)
def notification_dispatch(notification_id: int) -> None:
    """Mail one notification and queue its webhook deliveries."""
    from approvals.notifications import deliveries_enqueue, notification_send

    deliveries_enqueue(notification_send(notification_id=notification_id))


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=360, **RETRY)
def notifications_dispatch(notification_ids: list[int]) -> None:
    """Mail a batch of notifications (one message per drift batch); queue their webhooks."""
    from approvals.notifications import deliveries_enqueue, notification_send

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
    from approvals.notifications import webhook_attempt

    retry_in = webhook_attempt(delivery_id=delivery_id)
    if retry_in is not None and self.request.retries < self.max_retries:
        raise self.retry(countdown=retry_in)


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90, **RETRY)
def notifications_sweep() -> dict:
    """Re-queue notifications and deliveries whose queue message was lost or never sent."""
    from approvals.notifications import deliveries_enqueue, notifications_enqueue
    from approvals.notifications import notifications_sweep as sweep

    notifications, deliveries = sweep()
    notifications_enqueue(notifications)
    deliveries_enqueue(deliveries)
    return {"notifications": len(notifications), "deliveries": len(deliveries)}


@shared_task(ignore_result=True, soft_time_limit=240, time_limit=300, **RETRY)
def drift_evaluate() -> dict:
    """Compare every agent's observations with its approved scope; raise and resolve findings."""
    from approvals.drift import drift_evaluate as evaluate

    run = evaluate(actor=_actor("drift_evaluate"))
    logger.info("drift evaluation: %s", run.as_dict())
    return run.as_dict()


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660, **RETRY)
def recertification_open() -> dict:
    """Open the re-certification review of every approval nearing its expiry."""
    from approvals.recertification import recertifications_open_due

    run = recertifications_open_due(actor=_actor("recertification_open"))
    logger.info("re-certification: %s", run.as_dict())
    return run.as_dict()


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660, **RETRY)
def recertification_remind() -> dict:
    """Remind reviewers of re-certifications still pending a few days before the expiry."""
    from approvals.recertification import recertifications_remind_due

    run = recertifications_remind_due(actor=_actor("recertification_remind"))
    logger.info("re-certification reminders: %s", run.as_dict())
    return run.as_dict()


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660, **RETRY)
def approvals_expire() -> dict:
    """Expire every approval past its date."""
    from approvals.recertification import approvals_expire_due

    run = approvals_expire_due(actor=_actor("approvals_expire"))
    logger.info("expiry: %s", run.as_dict())
    return run.as_dict()


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660, **RETRY)
def reviews_escalate() -> dict:
    """Escalate sign-offs pending past the review SLA to the dimension's other reviewers."""
    from approvals.recertification import reviews_escalate_late

    run = reviews_escalate_late(actor=_actor("reviews_escalate"))
    logger.info("escalation: %s", run.as_dict())
    return run.as_dict()
