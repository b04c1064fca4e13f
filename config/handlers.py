"""Django's error views (handler400/403/404/500): the API's error shape under /api/.

Django answers with these when an exception leaves a view or a middleware
unhandled. A page keeps Django's HTML answer; an API client gets JSON in the
one error shape, and a server error says nothing of its cause (it is logged by
Django's `django.request` logger). The AuthZEN endpoints sit where their
specification puts them, outside /api/, and answer an error as its binding
does: a JSON string, the message.
"""

from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views import defaults

from config.errors import application_error_body, error_body, request_too_large

API_PREFIX = "/api/"
# The paths the AuthZEN specification gives its endpoints (runtime/urls.py serves them).
AUTHZEN_PATHS = ("/access/v1/", "/.well-known/authzen-configuration")


def is_api(request) -> bool:
    return request.path.startswith(API_PREFIX)


def is_authzen(request) -> bool:
    return request.path.startswith(AUTHZEN_PATHS)


def _authzen_error(message: str, status: int) -> JsonResponse:
    return JsonResponse(message, status=status, safe=False)


def too_large_response() -> JsonResponse:
    error = request_too_large()
    return JsonResponse(application_error_body(error), status=error.status_code)


def bad_request(request, exception):
    if is_authzen(request):
        return _authzen_error("The request could not be read.", HTTPStatus.BAD_REQUEST)
    if not is_api(request):
        return defaults.bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return too_large_response()
    return JsonResponse(
        error_body("bad_request", "The request could not be read."),
        status=HTTPStatus.BAD_REQUEST,
    )


def permission_denied(request, exception):
    if is_authzen(request):
        return _authzen_error("You may not do this.", HTTPStatus.FORBIDDEN)
    if not is_api(request):
        return defaults.permission_denied(request, exception)
    return JsonResponse(
        error_body("permission_denied", "You may not do this."), status=HTTPStatus.FORBIDDEN
    )


def api_not_found_response() -> JsonResponse:
    return JsonResponse(
        error_body("not_found", "No such API endpoint."), status=HTTPStatus.NOT_FOUND
    )


def page_not_found(request, exception):
    if is_authzen(request):
        return _authzen_error("No such AuthZEN endpoint.", HTTPStatus.NOT_FOUND)
    if not is_api(request):
        return defaults.page_not_found(request, exception)
    return api_not_found_response()


SERVER_ERROR = "The server failed to answer; the error is logged."


def server_error(request):
    if is_authzen(request):
        return _authzen_error(SERVER_ERROR, HTTPStatus.INTERNAL_SERVER_ERROR)
    if not is_api(request):
        return defaults.server_error(request)
    return JsonResponse(
        error_body("server_error", SERVER_ERROR), status=HTTPStatus.INTERNAL_SERVER_ERROR
    )
