"""How long a sign-off may wait for its reviewers before it is overdue.

`review_sla` is the one place the review target is read: the fallback
reviewers' right to decide, the reminders and the escalation all ask it.
"""

from datetime import datetime, timedelta

from django.conf import settings


def review_sla(dimension: str) -> timedelta:
    """Return how long a sign-off of the dimension may wait for its reviewers."""
    return timedelta(days=settings.COUNTERSIGN["REVIEW_SLA_DAYS"])


def overdue_since(signoff) -> datetime | None:
    """Return when the sign-off's review target passed, counted from the package's submission.

    None while the package has no submission time.
    """
    submitted_at = signoff.package.submitted_at
    if submitted_at is None:
        return None
    return submitted_at + review_sla(signoff.dimension)
