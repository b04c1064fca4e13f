"""Paging that refuses what it cannot read: a bad `limit` or `offset` is a 400 naming it.

DRF's own classes fall back to a default on a value they cannot read, so a
client asking for `limit=-5` silently gets 50 rows; here it is told why. The
bounds are written into the OpenAPI schema. A cursor that names no page is
DRF's 404, and so is one whose position is no value of the ordering field: DRF
decodes the position as text and would pass it to the query unchecked.
"""

from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from rest_framework import exceptions, pagination

MAX_LIMIT = 500
# The query parameters a bad value of which is a 400.
PAGING_PARAMETERS = {"limit", "offset"}
# Far past any list here, and below what an SQL OFFSET (a 64-bit integer) holds.
MAX_OFFSET = 1_000_000_000


def _bounded_int(request, name: str, *, minimum: int, maximum: int, default: int) -> int:
    """Return the query parameter as an integer within bounds, or raise a 400 naming it."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= maximum:
        raise exceptions.ValidationError({name: [f"A whole number from {minimum} to {maximum}."]})
    return int(raw)


def _integer_parameter(name: str, description: str, minimum: int, maximum: int) -> dict:
    return {
        "name": name,
        "required": False,
        "in": "query",
        "description": description,
        "schema": {"type": "integer", "minimum": minimum, "maximum": maximum},
    }


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    max_limit = MAX_LIMIT

    def get_limit(self, request):
        return _bounded_int(
            request,
            self.limit_query_param,
            minimum=1,
            maximum=MAX_LIMIT,
            default=self.default_limit,
        )

    def get_offset(self, request):
        return _bounded_int(
            request, self.offset_query_param, minimum=0, maximum=MAX_OFFSET, default=0
        )

    def get_schema_operation_parameters(self, view):
        return [
            _integer_parameter(
                self.limit_query_param, "Number of results to return per page.", 1, MAX_LIMIT
            ),
            _integer_parameter(
                self.offset_query_param, "The index of the first result to return.", 0, MAX_OFFSET
            ),
        ]


class CursorPagination(pagination.CursorPagination):
    max_page_size = MAX_LIMIT
    page_size_query_param = "limit"

    def get_page_size(self, request):
        return _bounded_int(
            request,
            self.page_size_query_param,
            minimum=1,
            maximum=MAX_LIMIT,
            default=self.page_size,
        )

    def paginate_queryset(self, queryset, request, view=None):
        # The cursor's position is checked against the ordering field of this model.
        self.model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        """Return the request's cursor, refusing as DRF does one whose position is not a value
        of the ordering field."""
        cursor = super().decode_cursor(request)
        if cursor is None or cursor.position is None:
            return cursor
        field = self.model._meta.get_field(self.ordering[0].lstrip("-"))
        try:
            ProhibitNullCharactersValidator()(cursor.position)
            field.clean(cursor.position, None)
        except ValidationError:
            raise exceptions.NotFound(self.invalid_cursor_message) from None
        return cursor

    def get_schema_operation_parameters(self, view):
        cursor, _ = super().get_schema_operation_parameters(view)
        limit = _integer_parameter(
            self.page_size_query_param, "Number of results to return per page.", 1, MAX_LIMIT
        )
        return [cursor, limit]
