"""Pieces of the OpenAPI schema shared by the API views."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from api.services import IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_LENGTH

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField())
                ),
            },
        )
    },
)

_DESCRIPTIONS = {
    400: "Invalid input; `error.fields` names each bad field.",
    401: "No token, or an invalid, expired or revoked one.",
    403: "The token lacks the scope, or the user may not do this.",
    404: "No such object, or it is outside your scope.",
    409: "The object is not in a state that allows this.",
    422: "The Idempotency-Key was used before with another request.",
    429: "Too many requests for this token.",
}
# Every API operation can answer these (api.middleware, config.handlers).
_COMMON = {
    "413": "The request body is over the limit (`error.fields.body` says it).",
    "500": "The server failed; nothing about the cause is said.",
}

IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    type={
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_IDEMPOTENCY_KEY_LENGTH,
        "pattern": IDEMPOTENCY_KEY_PATTERN,
    },
    description=(
        "Send the same key when retrying: the first answer is returned again. "
        "Visible ASCII characters, no spaces."
    ),
)


def errors(*statuses: int) -> dict:
    """Return the error responses of an operation for `extend_schema(responses=...)`."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status])
        for status in statuses
    }


def declare_common_errors(result, generator, request, public):
    """Add the answers every operation can give (413, 500) to each operation of the schema.

    A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]).
    """
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in _COMMON.items():
                responses.setdefault(status, {"description": description, "content": error})
    return result
