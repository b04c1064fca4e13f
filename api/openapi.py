"""Pieces of the OpenAPI schema shared by the API views."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

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

IDEMPOTENCY_KEY = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=False,
    type=str,
    description="Send the same key when retrying: the first answer is returned again.",
)


def errors(*statuses: int) -> dict:
    """Return the error responses of an operation for `extend_schema(responses=...)`."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status])
        for status in statuses
    }
