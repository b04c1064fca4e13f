"""The Celery application, the retry policy of its jobs, and the one way requests queue a job.

The beat schedule lives in `config.schedule`.
"""

import logging
import os
import time

from celery import Celery, current_app
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

logger = logging.getLogger(__name__)

app = Celery("countersign")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# What a database restart, a failover or the network raise: the connection is
# replaced before the next try (Celery's Django fix-up closes an unusable one
# around each task).
TRANSIENT_ERRORS = (OSError, ConnectionError, OperationalError, InterfaceError)

# Transient failures are retried a bounded number of times with exponential
# backoff; domain refusals are not retried. Messages are acknowledged on
# receipt: the database, not the broker, is the record of what is left to do
# (the sweep and the next scheduled run pick up whatever a lost message or a
# killed worker left), and a worker holding no unacknowledged message survives
# a broker outage.
RETRY = {
    "acks_late": False,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}

# After a send to a broker fails, this process queues nothing on it for this many
# seconds: each try would hold its request as long as the failed one did (the
# broker's socket timeouts, config/settings.py), and what is not queued is left
# to the sweep.
BROKER_PAUSE_SECONDS = 10
_paused_until: dict[str, float] = {}


def job_send(name: str, *args) -> bool:
    """Queue a job by task name without waiting for a result; False when it was not queued.

    Callers run after their change committed and keep in the database what the
    job is to do, so a job not queued is caught up later, never lost.
    """
    broker = current_app.conf.broker_url or ""
    if time.monotonic() < _paused_until.get(broker, 0.0):
        logger.warning("not queueing %s%r: the broker failed moments ago", name, args)
        return False
    try:
        current_app.send_task(name, args=args, ignore_result=True)
    except Exception:
        _paused_until[broker] = time.monotonic() + BROKER_PAUSE_SECONDS
        logger.warning("could not queue %s%r", name, args, exc_info=True)
        return False
    return True
