"""The beat schedule, in code; `manage.py sync_schedule` copies it into the database.

Celery beat runs with django-celery-beat's DatabaseScheduler, so staff see and
edit these entries in the admin (Periodic tasks). Syncing creates the entries
that are missing and leaves existing ones as staff left them; `--reset` puts
them back to what is written here. Times are UTC.

Each entry: name -> (task, crontab fields, what it is for). Every task is
idempotent, so a run that overlaps or repeats changes nothing.
"""

SCHEDULE: dict[str, dict] = {
    # Every 5 minutes: compare observations with approved scopes, raise findings.
    "drift-evaluate": {
        "task": "approvals.tasks.drift_evaluate",
        "crontab": {"minute": "*/5"},
        "description": "Scope drift: observations outside the approved scope become findings.",
    },
    # Every minute: fold runtime decisions' usage counts into observations (and evaluate
    # drift when they hold a deny).
    "runtime-usage-flush": {
        "task": "runtime.tasks.runtime_usage_flush",
        "crontab": {"minute": "*"},
        "description": "Runtime usage: decision counts from Redis into observations.",
    },
    # Every minute: re-queue notifications and webhook deliveries left behind.
    "notifications-sweep": {
        "task": "outbox.tasks.notifications_sweep",
        "crontab": {"minute": "*"},
        "description": "Send notifications whose queue message was lost; retry due webhooks.",
    },
    # Daily at 02:00: open the re-certification review of approvals nearing expiry.
    "recertification-open": {
        "task": "approvals.tasks.recertification_open",
        "crontab": {"minute": "0", "hour": "2"},
        "description": "Open re-certifications RECERTIFICATION_LEAD_DAYS ahead of expiry.",
    },
    # Daily at 07:00: remind reviewers of re-certifications pending 3 days before expiry.
    "recertification-remind": {
        "task": "approvals.tasks.recertification_remind",
        "crontab": {"minute": "0", "hour": "7"},
        "description": "Remind reviewers of re-certifications still pending near the expiry.",
    },
    # Every minute: expire approvals past their date. The gate, the decision point and the
    # pages treat an approval as expired from that moment; the job brings the stored
    # states, the lists' filters and the notifications level with them.
    "approvals-expire": {
        "task": "approvals.tasks.approvals_expire",
        "crontab": {"minute": "*"},
        "description": "Mark approvals past their re-certification date as expired.",
    },
    # Every 5 minutes: close emergency approvals whose time box ended (the gate denies
    # them, and the pages show them expired, from that moment already); owners and
    # reviewers are told.
    "emergencies-expire": {
        "task": "approvals.tasks.emergencies_expire",
        "crontab": {"minute": "*/5"},
        "description": "Expire emergency approvals past EMERGENCY_APPROVAL_HOURS; notify.",
    },
    # Daily at 08:00: escalate sign-offs pending past their dimension's review SLA.
    "reviews-escalate": {
        "task": "approvals.tasks.reviews_escalate",
        "crontab": {"minute": "0", "hour": "8"},
        "description": "Escalate late reviews to the fallback reviewers (or the others) and staff.",
    },
    # Daily at 07:30: remind reviewers of every sign-off pending a day or more, once a day.
    "reviews-remind": {
        "task": "approvals.tasks.reviews_remind",
        "crontab": {"minute": "30", "hour": "7"},
        "description": "Remind the reviewers (and absent reviewers' delegates) of pending reviews.",
    },
    # Daily at 03:30: drop idempotency answers older than their 24 h replay window.
    "idempotency-prune": {
        "task": "api.tasks.idempotency_records_prune",
        "crontab": {"minute": "30", "hour": "3"},
        "description": "Delete API idempotency records past their replay window.",
    },
    # Daily at 03:45: drop runtime usage days older than the windows reviewers see.
    "usage-days-prune": {
        "task": "agents.tasks.usage_days_prune_old",
        "crontab": {"minute": "45", "hour": "3"},
        "description": "Delete agents' usage days older than USAGE_DAYS_KEPT (100 days).",
    },
    # Daily at 06:00: warn the users of API tokens expiring within 14 days, once each.
    "tokens-expiry-warn": {
        "task": "tokens.tasks.tokens_expiry_warn",
        "crontab": {"minute": "0", "hour": "6"},
        "description": "Tell token users (or staff) of API tokens expiring within 14 days.",
    },
    # Daily at 04:00: drop expired sessions, and sign-in logs past SIGN_IN_LOG_DAYS.
    "sign-ins-prune": {
        "task": "identity.tasks.sign_ins_prune_old",
        "crontab": {"minute": "0", "hour": "4"},
        "description": "Delete expired sessions and sign-in logs older than SIGN_IN_LOG_DAYS.",
    },
    # Daily at 04:15: drop notifications past NOTIFICATION_DAYS whose sending is done.
    "notifications-prune": {
        "task": "outbox.tasks.notifications_prune_old",
        "crontab": {"minute": "15", "hour": "4"},
        "description": "Delete sent notifications and their deliveries past NOTIFICATION_DAYS.",
    },
    # Every 15 minutes: sign the chain head, so an edit re-hashed into the chain is
    # caught by a checkpoint at most 15 minutes younger than it.
    "audit-checkpoint": {
        "task": "audit.tasks.audit_checkpoint",
        "crontab": {"minute": "*/15"},
        "description": "Sign a checkpoint of the audit chain's head.",
    },
}
