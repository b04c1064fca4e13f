"""Set a reviewer away through the absence service, as the delegation tests need it."""

from datetime import timedelta

from django.utils import timezone

from audit.actors import Actor
from signoffs.absence import absence_set


def away(reviewer, delegate, dimension, *, since=timedelta(hours=1), until=timedelta(days=1)):
    """Make the reviewer absent from `since` ago until `until` from now; `delegate` decides."""
    now = timezone.now()
    return absence_set(
        actor=Actor.for_user(reviewer),
        reviewer=reviewer,
        dimension=dimension,
        delegate=delegate,
        starts_at=now - since,
        ends_at=now + until,
    )
