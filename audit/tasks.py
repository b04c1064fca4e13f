"""Celery jobs of the audit trail."""

import logging

from celery import shared_task

from audit.actors import Actor
from audit.checkpoints import checkpoint_create

logger = logging.getLogger(__name__)


@shared_task(
    soft_time_limit=60, time_limit=90, max_retries=3, autoretry_for=(OSError,), retry_backoff=True
)
def audit_checkpoint() -> int | None:
    """Sign the chain head; idempotent (an unchanged head keeps its checkpoint)."""
    checkpoint = checkpoint_create(actor=Actor.system("celery:audit_checkpoint"))
    return checkpoint.seq if checkpoint is not None else None
