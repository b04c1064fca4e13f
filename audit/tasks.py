"""Celery jobs of the audit trail."""

import logging

from celery import shared_task

from audit.actors import Actor
from audit.checkpoints import checkpoint_create
from audit.verification import verification_run
from config.celery import TRANSIENT_ERRORS

logger = logging.getLogger(__name__)


@shared_task(
    soft_time_limit=60,
    time_limit=90,
    max_retries=3,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
)
def audit_checkpoint() -> int | None:
    """Sign the chain head; idempotent (an unchanged head keeps its checkpoint)."""
    checkpoint = checkpoint_create(actor=Actor.system("celery:audit_checkpoint"))
    return checkpoint.seq if checkpoint is not None else None


# Below the age at which a run is taken to be lost (audit.verification.RUN_STALE_AFTER).
@shared_task(soft_time_limit=50 * 60, time_limit=55 * 60, max_retries=0)
def audit_verification(run_id: int) -> str | None:
    """Walk the chain for a requested run; idempotent (a run already taken is left alone)."""
    run = verification_run(run_id=run_id)
    return run.state if run is not None else None
