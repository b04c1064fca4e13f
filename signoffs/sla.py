"""How long a sign-off may wait for its decision: one reader of the review targets.

`COUNTERSIGN["REVIEW_SLA_DAYS"]` is every dimension's target unless
`COUNTERSIGN["REVIEW_SLA_DAYS_BY_DIMENSION"]` names its own (settings read both
from the environment). Escalation and the dashboard's lead-time chart read the
targets here, so a late review is late by the same measure in both; so do the
fallback reviewers' right to decide and the reminders (`overdue_since`).

A target is in calendar days, counted to the second: weekends and holidays count,
and a sign-off is overdue from the instant its target passes (`overdue_since`),
the same instant for every reader.

A sign-off's review counts from the package's submission, or from its re-opening
when a suspension or a lapsed approval re-opened it (`SignOff.reopened_at`): its
reviewers were asked to decide again then. `review_started_at` is the one
definition of that moment, `reviews_from` its form in a query, held to it by a test.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce

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


def review_started_at(signoff) -> datetime | None:
    """Return when the sign-off's review started: its re-opening, else the submission.

    None while the package has no submission time.
    """
    return signoff.reopened_at or signoff.package.submitted_at


def overdue_since(signoff) -> datetime | None:
    """Return when the sign-off's review target passed, counted from `review_started_at`.

    None while the package has no submission time.
    """
    started_at = review_started_at(signoff)
    if started_at is None:
        return None
    return started_at + review_sla(signoff.dimension)


def reviews_from(signoffs: QuerySet) -> QuerySet:
    """Return the sign-offs annotated with `review_started_at` (as `review_from`)."""
    return signoffs.annotate(review_from=Coalesce(F("reopened_at"), F("package__submitted_at")))


def started_by(signoffs: QuerySet, moment: datetime) -> QuerySet:
    """Return those of the sign-offs whose review started at `moment` or before."""
    return reviews_from(signoffs).filter(review_from__lte=moment)


def overdue_by(signoffs: QuerySet, now: datetime) -> QuerySet:
    """Return those of the sign-offs whose review target passed by `now` (`overdue_since`)."""
    # Each dimension is late by its own target.
    late = Q()
    for dimension, days in review_slas().items():
        late |= Q(dimension=dimension, review_from__lte=now - timedelta(days=days))
    return reviews_from(signoffs).filter(late)
