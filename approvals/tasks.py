"""Celery jobs that keep approvals current. Each is thin: it takes ids, re-reads, calls a service.

Every job is idempotent and restart-safe: what it does is derived from the
database, and the services lock and re-check the rows they change, so a
second run (or two beats at once) changes nothing. The jobs act as the system
actor `celery:<job>`. Results are not stored: the database is the record.
"""

import logging

from celery import shared_task

from approvals.drift import drift_evaluate as evaluate
from approvals.emergency import emergencies_expire_due
from approvals.recertification import (
    approvals_expire_due,
    recertifications_open_due,
    recertifications_remind_due,
    reviews_escalate_late,
)
from approvals.reminders import reviews_remind_pending
from audit.actors import Actor
from config.celery import RETRY

logger = logging.getLogger(__name__)


def _actor(job: str) -> Actor:
    return Actor.system(f"celery:{job}")


@shared_task(ignore_result=True, soft_time_limit=240, time_limit=300, **RETRY)
def drift_evaluate() -> dict:
    """Compare every agent's observations with its approved scope; raise and resolve findings."""
    run = evaluate(actor=_actor("drift_evaluate"))
    logger.info("drift evaluation: %s", run.as_dict())
    return run.as_dict()


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660, **RETRY)
def recertification_open() -> dict:
    """Open the re-certification review of every approval nearing its expiry."""
    run = recertifications_open_due(actor=_actor("recertification_open"))
    logger.info("re-certification: %s", run.as_dict())
    return run.as_dict()


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660, **RETRY)
def recertification_remind() -> dict:
    """Remind reviewers of re-certifications still pending a few days before the expiry."""
    run = recertifications_remind_due(actor=_actor("recertification_remind"))
    logger.info("re-certification reminders: %s", run.as_dict())
    return run.as_dict()


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660, **RETRY)
def approvals_expire() -> dict:
    """Expire every approval past its date."""
    run = approvals_expire_due(actor=_actor("approvals_expire"))
    logger.info("expiry: %s", run.as_dict())
    return run.as_dict()


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660, **RETRY)
def reviews_escalate() -> dict:
    """Escalate sign-offs pending past their review SLA to the dimension's other reviewers."""
    run = reviews_escalate_late(actor=_actor("reviews_escalate"))
    logger.info("escalation: %s", run.as_dict())
    return run.as_dict()


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=360, **RETRY)
def emergencies_expire() -> dict:
    """Close every emergency approval whose time box ended before its full review approved."""
    run = emergencies_expire_due(actor=_actor("emergencies_expire"))
    logger.info("emergency expiry: %s", run.as_dict())
    return run.as_dict()


@shared_task(ignore_result=True, soft_time_limit=600, time_limit=660, **RETRY)
def reviews_remind() -> dict:
    """Remind the reviewers of every pending sign-off, once a day."""
    run = reviews_remind_pending(actor=_actor("reviews_remind"))
    logger.info("review reminders: %s", run.as_dict())
    return run.as_dict()
