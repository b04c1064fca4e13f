"""Periodic housekeeping of the idempotency records."""

from celery import shared_task

from api.services import idempotency_prune
from config.celery import RETRY


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=180, **RETRY)
def idempotency_records_prune() -> int:
    """Delete idempotency answers past their replay window; running twice deletes nothing more."""
    return idempotency_prune()
