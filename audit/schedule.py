"""Audit's periodic jobs, for the beat schedule in config to merge (CELERY_BEAT_SCHEDULE)."""

from celery.schedules import crontab

AUDIT_BEAT_SCHEDULE = {
    # Every 15 minutes: sign the chain head, so an edit re-hashed into the chain is
    # caught by a checkpoint at most 15 minutes younger than it.
    "audit-checkpoint": {
        "task": "audit.tasks.audit_checkpoint",
        "schedule": crontab(minute="*/15"),
    },
}
