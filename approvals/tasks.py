"""Celery jobs of the approval workflow. Each takes ids, re-reads, and calls a service."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(soft_time_limit=60, time_limit=90, max_retries=3)
def notification_dispatch(payload: dict) -> None:
    """Deliver the notifications of one event (mail and webhooks)."""
    logger.info("notification %s", payload)
