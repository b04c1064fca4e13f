"""Filters of the lists the API and the pages share, each with its OpenAPI pattern.

django-filter's CharFilter refuses NUL (Django's CharField does) but the
OpenAPI schema would not say so; these say what each filter refuses.
"""

import django_filters
from drf_spectacular.utils import extend_schema_field

from config.identifiers import IDENTIFIER_PATTERN, validate_identifier

# PostgreSQL cannot hold NUL in text, and Django's form fields refuse it.
TEXT_PATTERN = "^[^\\u0000]*$"
# Some character other than whitespace, for a field that may not be blank.
NOT_BLANK_PATTERN = "\\S"


@extend_schema_field({"type": "string", "pattern": IDENTIFIER_PATTERN})
class IdentifierFilter(django_filters.CharFilter):
    """Filter by an identifier: one holding a control or format character is a 400."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("validators", [validate_identifier])
        super().__init__(*args, **kwargs)


@extend_schema_field({"type": "string", "pattern": TEXT_PATTERN})
class TextFilter(django_filters.CharFilter):
    """Filter by text people type, e.g. a search."""


class BlankIsAnyFilterSet(django_filters.FilterSet):
    """A FilterSet in which a filter sent empty (a form's "Any") filters nothing.

    Without this, a list page's form sent with its blank choices would fail validation.
    """

    def __init__(self, data=None, *args, **kwargs):
        if data is not None:
            data = data.copy()
            for name in self.base_filters:
                if name in data and not any(value.strip() for value in data.getlist(name)):
                    del data[name]
        super().__init__(data, *args, **kwargs)
