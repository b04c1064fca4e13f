"""Domain errors and the one error shape every failure answers with."""

from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404

# DRF is imported inside the handler: its settings import the authentication
# classes, which import these domain errors.


class ApplicationError(Exception):
    """A refusal a client can cause; `code` is machine-readable, `message` human."""

    status_code = HTTPStatus.BAD_REQUEST
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields = fields or {}


class InvalidInput(ApplicationError):
    default_code = "invalid"


class AlreadyExists(InvalidInput):
    """Input naming what another object already holds (a slug, an identity)."""

    status_code = HTTPStatus.CONFLICT
    default_code = "already_exists"


class InvalidTransition(ApplicationError):
    status_code = HTTPStatus.CONFLICT
    default_code = "invalid_transition"


class NotPermitted(ApplicationError):
    status_code = HTTPStatus.FORBIDDEN
    default_code = "not_permitted"


class StepUpRequired(NotPermitted):
    """A consequential action of a person whose authentication is older than the step-up window."""

    default_code = "step_up_required"


class NotFound(ApplicationError):
    status_code = HTTPStatus.NOT_FOUND
    default_code = "not_found"


class RequestTooLarge(ApplicationError):
    status_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def request_too_large() -> RequestTooLarge:
    """Return the refusal of a request body over the one limit, DATA_UPLOAD_MAX_MEMORY_SIZE."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return RequestTooLarge(
        f"The request body is larger than the limit of {limit} bytes.",
        fields={"body": [f"At most {limit} bytes."]},
    )


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def application_error_body(error: ApplicationError) -> dict:
    return error_body(error.code, error.message, error.fields)


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """Return DRF's nested error detail as dotted field paths to messages."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, path))
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {prefix or "non_field_errors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            out.update(_flatten(item, f"{prefix}[{index}]"))
        return out
    return {prefix or "non_field_errors": [str(detail)]}


def api_exception_handler(exc, context):
    """Turn every exception a client can cause into the one error shape."""
    from rest_framework import exceptions
    from rest_framework.response import Response
    from rest_framework.views import exception_handler

    if isinstance(exc, ApplicationError):
        return Response(application_error_body(exc), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {}
        return Response(
            error_body("invalid", "; ".join(exc.messages), fields),
            status=HTTPStatus.BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        response.data = error_body("invalid", message or "Invalid input.", fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        # A body that cannot be read is the field in error.
        fields = {"body": [str(detail)]} if isinstance(exc, exceptions.ParseError) else None
        response.data = error_body(str(code), str(detail), fields)
    return response
