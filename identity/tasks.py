"""Periodic housekeeping of sign-in records: expired sessions, old sign-in logs."""

from celery import shared_task

from audit.actors import Actor
from config.celery import RETRY
from identity.services import sign_ins_prune


@shared_task(ignore_result=True, soft_time_limit=300, time_limit=360, **RETRY)
def sign_ins_prune_old() -> dict:
    """Delete expired sessions and sign-in logs past their days; running twice deletes no more."""
    return sign_ins_prune(actor=Actor.system("celery:sign_ins_prune_old"))
