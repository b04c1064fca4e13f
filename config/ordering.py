"""Rows in a vocabulary's order: the order its ``TextChoices`` lists its members in.

Pages list dimensions IAM, PAM, Security, Compliance and groups product owners
first, not alphabetically. `rank` sorts values in Python, `ranked` orders a
queryset in the database; both take the order from the vocabulary itself.
"""

from django.db.models import Case, IntegerField, TextChoices, Value, When


def rank(choices: type[TextChoices]) -> dict[str, int]:
    """Return each value's place in `choices`, to sort rows already in memory."""
    return {value: place for place, value in enumerate(choices.values)}


def ranked(choices: type[TextChoices], field: str) -> Case:
    """Return `rank(choices)` of the value in `field`, for `order_by()`.

    A value `choices` does not know sorts after all of its members.
    """
    places = rank(choices)
    return Case(
        *(When(**{field: value}, then=Value(place)) for value, place in places.items()),
        default=Value(len(places)),
        output_field=IntegerField(),
    )
