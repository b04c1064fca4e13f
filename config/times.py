"""Times a client sends, in any offset ISO 8601 allows, kept as UTC.

Python reads offsets up to ±23:59 but PostgreSQL refuses any beyond ±15:59
("time zone displacement out of range"), so a time sent with such an offset
reached the database as it was and answered 500. Converted to UTC first, every
time Python can read is one PostgreSQL takes; one whose UTC falls outside the
years 1 to 9999 is refused with the field named.
"""

from datetime import UTC, datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

OUT_OF_RANGE = "Must fall within the years 1 to 9999 in UTC."


def in_utc(value: datetime) -> datetime:
    """Return the time in UTC (a naive one is taken as UTC); ValueError when UTC cannot hold it."""
    if timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as error:
        raise ValueError(OUT_OF_RANGE) from error


class UTCDateTimeField(forms.DateTimeField):
    """A date-time form field (ISO 8601 with any offset, or naive as UTC) cleaned to UTC."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return in_utc(result)
        except ValueError as error:
            raise ValidationError(OUT_OF_RANGE, code="out_of_range") from error
