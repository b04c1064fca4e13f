"""Periodic housekeeping of the agents' usage days."""

from celery import shared_task

from agents.usage import usage_days_prune
from audit.actors import Actor
from config.celery import RETRY


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=180, **RETRY)
def usage_days_prune_old() -> int:
    """Delete usage days past the kept window; running twice deletes nothing more."""
    return usage_days_prune(actor=Actor.system("celery:usage_days_prune_old"))
