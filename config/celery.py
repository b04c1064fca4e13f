"""The Celery application; the beat schedule lives in `config.schedule`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("countersign")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Transient failures (database restart, network) are retried a bounded number
# of times with exponential backoff; domain refusals are not retried. Messages
# are acknowledged on receipt: the database, not the broker, is the record of
# what is left to do (the sweep and the next scheduled run pick up whatever a
# lost message or a killed worker left), and a worker holding no unacknowledged
# message survives a broker outage.
RETRY = {
    "acks_late": False,
    "autoretry_for": (OSError, ConnectionError),
    "retry_backoff": 5,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}
