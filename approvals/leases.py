"""A lease a job's run holds while it runs: a second run of the job returns at once.

One row per job, taken by a conditional UPDATE and renewed as the run goes. Unlike a
PostgreSQL session advisory lock, it holds when a connection pooler in transaction mode
(PgBouncer) runs each statement on another server connection, and on SQLite. The
database's clock sets and compares the expiry, so the workers' clocks need not agree.
A run that dies keeps the lease until it lapses, and the next run takes it then.
"""

import uuid
from datetime import timedelta

from django.db.models import DateTimeField, ExpressionWrapper, Q
from django.db.models.functions import Now

from approvals.models import JobLease


def _until(duration: timedelta) -> ExpressionWrapper:
    return ExpressionWrapper(Now() + duration, output_field=DateTimeField())


def lease_take(job: str, duration: timedelta) -> str | None:
    """Take the job's lease for `duration` and return the holder's key, or None while
    another run holds it."""
    JobLease.objects.get_or_create(job=job)
    holder = uuid.uuid4().hex
    free = Q(held_until__isnull=True) | Q(held_until__lte=Now())
    taken = JobLease.objects.filter(free, job=job).update(
        holder=holder, held_until=_until(duration)
    )
    return holder if taken else None


def lease_renew(job: str, holder: str, duration: timedelta) -> bool:
    """Hold the lease `duration` longer; False when it lapsed and another run took it."""
    return bool(JobLease.objects.filter(job=job, holder=holder).update(held_until=_until(duration)))


def lease_release(job: str, holder: str) -> None:
    """Free the lease, unless it lapsed and another run holds it now."""
    JobLease.objects.filter(job=job, holder=holder).update(holder="", held_until=None)
