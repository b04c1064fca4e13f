"""Pieces of the OpenAPI schema shared by the API views."""

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from api.base import AnyAccept
from api.filters import NOT_BLANK_PATTERN, TEXT_PATTERN
from api.pagination import PAGING_PARAMETERS
from api.services import IDEMPOTENCY_KEY_PATTERN, MAX_IDEMPOTENCY_KEY_LENGTH
from config.handlers import API_PREFIX
from config.identifiers import IDENTIFIER_PATTERN, IdentifierValidator

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
    406: "The `Accept` header names no media type this operation answers in.",
    409: "The object is not in a state that allows this, or what the input names is taken.",
    422: "The Idempotency-Key was used before with another request.",
    429: "Too many requests for this token.",
}
# Every operation under /api/ can answer these (api.middleware, config.handlers).
_API_COMMON = {
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


class ApiSchema(AutoSchema):
    """Add to each operation the answers it gives whatever its view declares.

    REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]. A view whose exception handler answers
    in another shape says so with a subclass overriding `error_content`.
    """

    def one_shape(self) -> dict:
        """Return the content of an error in the one error shape."""
        error = self.resolve_serializer(ErrorSerializer, "response")
        return {"application/json": {"schema": error.ref}}

    def error_content(self) -> dict:
        """Return the content of an error the view's exception handler answers."""
        return self.one_shape()

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        api_error = self.one_shape()
        common = {}
        if not isinstance(self.view, AnyAccept):
            # An Accept it cannot render: DRF's negotiation refuses it before authentication.
            common["406"] = {"description": _DESCRIPTIONS[406], "content": self.error_content()}
        if path.startswith(API_PREFIX):
            for status, description in _API_COMMON.items():
                common[status] = {"description": description, "content": api_error}
        else:
            # Outside /api/ only the AuthZEN endpoints answer, in their own shape
            # (config.handlers.server_error).
            common["500"] = {
                "description": _API_COMMON["500"],
                "content": self.error_content(),
            }
        if {p["name"] for p in operation.get("parameters", ())} & PAGING_PARAMETERS:
            # api.pagination refuses bad paging.
            common["400"] = {"description": _DESCRIPTIONS[400], "content": api_error}
        responses = operation.setdefault("responses", {})
        for status, response in common.items():
            responses.setdefault(status, response)
        return operation


class TextPattern(OpenApiSerializerFieldExtension):
    """Say in the schema what a text field refuses, as it refuses it.

    NUL (DRF's CharField refuses it), control and format characters in an
    identifier (config.identifiers), and text of only whitespace where a field
    may not be blank (DRF trims it first). Request fields only: what the API
    sends back says nothing about them. The patterns go in `allOf`, beside the
    lengths: a client that folds maxLength into a pattern (schemathesis does)
    respells characters above U+FFFF with escapes ECMA-262 does not read.
    """

    target_class = "rest_framework.fields.CharField"
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        schema = auto_schema._map_serializer_field(field, direction, bypass_extensions=True)
        if direction != "request" or {"format", "enum"} & set(schema):
            return schema
        # A regular expression of the field's own is written by drf-spectacular instead.
        own_regex = any(isinstance(v, RegexValidator) for v in field.validators)
        patterns = []
        if any(isinstance(v, IdentifierValidator) for v in field.validators):
            patterns.append(IDENTIFIER_PATTERN)
        elif not own_regex and any(
            isinstance(v, ProhibitNullCharactersValidator) for v in field.validators
        ):
            patterns.append(TEXT_PATTERN)
        if not field.allow_blank and field.trim_whitespace and not own_regex:
            patterns.append(NOT_BLANK_PATTERN)
            schema.setdefault("minLength", 1)
        if patterns:
            schema["allOf"] = [{"pattern": pattern} for pattern in patterns]
        return schema
