"""Periodic warning of API tokens about to expire."""

from celery import shared_task

from audit.actors import Actor
from config.celery import RETRY
from tokens.services import tokens_warn_expiring


@shared_task(ignore_result=True, soft_time_limit=120, time_limit=180, **RETRY)
def tokens_expiry_warn() -> list[str]:
    """Warn of tokens expiring soon; running twice warns nobody twice."""
    return tokens_warn_expiring(actor=Actor.system("celery:tokens_expiry_warn"))
