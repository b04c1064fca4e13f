"""Times a client sends, in any offset ISO 8601 allows, kept as UTC; the expiries written.

Python reads offsets up to ±23:59 but PostgreSQL refuses any beyond ±15:59
("time zone displacement out of range"), so a time sent with such an offset
reached the database as it was and answered 500. Converted to UTC first, every
time Python can read is one PostgreSQL takes; one whose UTC falls outside the
years 1 to 9999 is refused with the field named.

An approval's expiry and an emergency approval's end are written in whole
seconds (`whole_second`): a Cedar bundle compares whole seconds since the
epoch, so the gate, the decision point and the bundle then stop allowing at
the same instant.
"""

from datetime import UTC, datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework import serializers

NOT_A_TIME = "Must be an ISO 8601 date-time."
NO_OFFSET = "Must be an ISO 8601 date-time with a time zone."
OUT_OF_RANGE = "Must fall within the years 1 to 9999 in UTC."


def time_in_utc(value: object, *, naive_is_utc: bool) -> datetime:
    """Return a client's time (ISO 8601 text or a datetime) in UTC; ValueError saying why not.

    Any other value (a number from a JSON body, say) is no time. A time without
    an offset is taken as UTC when `naive_is_utc`, else refused.
    """
    parsed = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value)
        except ValueError:  # well formed, but no such day (February 30)
            parsed = None
    if parsed is None:
        raise ValueError(NOT_A_TIME)
    if timezone.is_naive(parsed):
        if not naive_is_utc:
            raise ValueError(NO_OFFSET)
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError as error:
        raise ValueError(OUT_OF_RANGE) from error


class UTCDateTimeField(forms.DateTimeField):
    """A date-time form field (ISO 8601 with any offset, or naive as UTC) cleaned to UTC."""

    def to_python(self, value):
        result = super().to_python(value)
        if result is None:
            return None
        try:
            return time_in_utc(result, naive_is_utc=True)
        except ValueError as error:
            raise ValidationError(str(error), code="invalid") from error


class OffsetDateTimeField(serializers.DateTimeField):
    """An API date-time: ISO 8601 with its offset (`Z` or `±hh:mm`), kept as UTC.

    A time without one (a bare date too) is refused: read in the server's zone it
    would silently move an absence or a token's expiry by the client's offset, and a
    bare date as midnight would end an absence "until" that date as the day begins.
    """

    def to_internal_value(self, value):
        try:
            return time_in_utc(value, naive_is_utc=False)
        except ValueError as error:
            raise serializers.ValidationError(str(error), code="invalid") from error


def stored_time(value: datetime | None) -> datetime | None:
    """Return a time read from a column outside its model field as an aware datetime.

    PostgreSQL hands back an aware time, SQLite a naive one in UTC.
    """
    if value is not None and timezone.is_naive(value):
        return value.replace(tzinfo=UTC)
    return value


def whole_second(value: datetime) -> datetime:
    """Return the time cut down to its whole second: how an expiry is written.

    Cut down, not rounded: an expiry written earlier than asked never lets anything
    ship later than its approval allows.
    """
    return value.replace(microsecond=0)
