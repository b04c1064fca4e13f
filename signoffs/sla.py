"""How long a sign-off may wait for its decision: one reader of the review targets.

`COUNTERSIGN["REVIEW_SLA_DAYS"]` is every dimension's target unless
`COUNTERSIGN["REVIEW_SLA_DAYS_BY_DIMENSION"]` names its own (settings read both
from the environment). Escalation and the dashboard's lead-time chart read the
targets here, so a late review is late by the same measure in both; so do the
fallback reviewers' right to decide and the reminders (`overdue_since`).
"""

from datetime import datetime, timedelta

from django.conf import settings

from signoffs.models import Dimension


def review_sla_days(dimension: str) -> int:
    """Return the days a sign-off of `dimension` may wait before it is late."""
    config = settings.COUNTERSIGN
    return config.get("REVIEW_SLA_DAYS_BY_DIMENSION", {}).get(dimension, config["REVIEW_SLA_DAYS"])


def review_sla(dimension: str) -> timedelta:
    """Return how long a sign-off of `dimension` may wait for its reviewers."""
    return timedelta(days=review_sla_days(dimension))


def review_slas() -> dict[str, int]:
    """Return every dimension's target in days, in the dimensions' order."""
    return {dimension: review_sla_days(dimension) for dimension in Dimension.values}


def overdue_since(signoff) -> datetime | None:
    """Return when the sign-off's review target passed, counted from the package's submission.

    None while the package has no submission time.
    """
    submitted_at = signoff.package.submitted_at
    if submitted_at is None:
        return None
    return submitted_at + review_sla(signoff.dimension)
