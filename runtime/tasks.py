"""The usage flush job: runtime decisions' counts into observations, then drift.

Thin and idempotent like every job (see runtime/usage.py for why a repeated or
interrupted run counts nothing twice). When the flushed counts hold a deny,
drift is evaluated at once, so a denied request becomes a finding within a
minute or two rather than at the next drift run.
"""

import logging

from celery import shared_task

from approvals.drift import drift_evaluate
from audit.actors import Actor
from config.celery import RETRY
from runtime.usage import flushes_prune, usage_flush

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=58, **RETRY)
def runtime_usage_flush() -> dict:
    """Fold the closed minutes' usage counts into observations; evaluate drift on a deny."""
    actor = Actor.system("celery:runtime_usage_flush")
    run = usage_flush(actor=actor)
    if run["denies"]:
        run["drift"] = drift_evaluate(actor=actor).as_dict()
    run["pruned"] = flushes_prune()
    logger.info("runtime usage flush: %s", run)
    return run
