"""The beat schedule in the database: django-celery-beat's rows, synced from config/schedule.py.

Which task an entry runs is the code's; its timing and its switch are the staff's
once the entry exists, until a reset puts them back to what the code says. The
schedule decides whether expiry, re-certification and drift evaluation run at
all, so a sync that changes it is an audit event; a sync that changes nothing
(every start of the stack runs one) records nothing.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models, transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from audit.actors import Actor
from audit.services import audit_record
from config.schedule import SCHEDULE

CREATED, RESET, REPOINTED, KEPT = "created", "reset", "repointed", "kept"


def _wanted(entry: dict) -> dict:
    """Return the fields of an entry's row as the code writes them."""
    fields = {
        "minute": "*",
        "hour": "*",
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
        **entry["crontab"],
    }
    crontab, _ = CrontabSchedule.objects.get_or_create(timezone="UTC", **fields)
    return {
        "task": entry["task"],
        "crontab": crontab,
        "interval": None,
        "description": entry["description"],
        "enabled": True,
    }


@transaction.atomic
def schedule_sync(*, actor: Actor, reset: bool) -> dict[str, str]:
    """Create the missing entries and point kept ones at their task; `reset` overwrites all.

    Return what happened to each entry, by name: created, reset, repointed or kept.
    """
    outcome = {}
    for name, entry in SCHEDULE.items():
        wanted = _wanted(entry)
        existing = PeriodicTask.objects.filter(name=name).first()
        if existing is None:
            PeriodicTask.objects.create(name=name, **wanted)
            outcome[name] = CREATED
            continue
        changed = [key for key, value in wanted.items() if getattr(existing, key) != value]
        if not reset:
            changed = [key for key in changed if key == "task"]
        for key in changed:
            setattr(existing, key, wanted[key])
        if changed:
            existing.save(update_fields=changed)
        outcome[name] = (RESET if reset else REPOINTED) if changed else KEPT
    done = {
        what: sorted(name for name, happened in outcome.items() if happened == what)
        for what in (CREATED, RESET, REPOINTED)
    }
    if any(done.values()):
        audit_record(actor=actor, action="schedule.synced", data=done)
    return outcome


# Beat writes an entry's last run to the database every few minutes (its sync), not at
# every run, so a job counts as late only once a run it owed is this far past.
LATE_AFTER = timedelta(minutes=10)


class JobStatus(models.TextChoices):
    RUNNING = "running", "Running"
    LATE = "late", "Late"
    OFF = "off", "Disabled by staff"
    MISSING = "missing", "Never synced"


@dataclass(frozen=True)
class JobState:
    name: str
    state: JobStatus
    last_run_at: datetime | None = None
    # The run owed after the last one (or after the entry was last changed, if it never ran).
    due_at: datetime | None = None


def schedule_states() -> list[JobState]:
    """Tell, for each entry of config/schedule.py, whether beat is running it.

    Expiry, re-certification, drift and checkpoints all hang on these jobs; a stopped
    beat stops them without a sound, so this is what monitoring and staff look at.
    """
    now = timezone.now()
    rows = {row.name: row for row in PeriodicTask.objects.filter(name__in=SCHEDULE)}
    states = []
    for name in SCHEDULE:
        row = rows.get(name)
        if row is None:
            states.append(JobState(name, JobStatus.MISSING))
            continue
        # Celery's own reckoning of the next run, for whatever schedule staff gave the entry;
        # it reads the clock a moment after `now`, so the sum is rounded to the second.
        estimate = row.schedule.remaining_estimate(row.last_run_at or row.date_changed)
        due_at = (now + estimate + timedelta(milliseconds=500)).replace(microsecond=0)
        if not row.enabled:
            state = JobStatus.OFF
        else:
            state = JobStatus.LATE if due_at + LATE_AFTER < now else JobStatus.RUNNING
        states.append(JobState(name, state, row.last_run_at, due_at))
    return states
