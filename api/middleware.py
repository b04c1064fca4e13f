"""The one limit on an API request's body, applied before any view or parser sees it."""

from django.core.exceptions import RequestDataTooBig

from config.handlers import is_api, too_large_response


class ApiBodyLimitMiddleware:
    """Answer 413 in the API's error shape to a body over DATA_UPLOAD_MAX_MEMORY_SIZE.

    Reading `request.body` applies Django's check of that setting: against
    Content-Length before a byte is read, and against what was buffered when
    there is no Content-Length. Every parser (JSON, YAML) then reads the body
    already in memory, so none of them reads past the limit, and the release
    gate never sees a body it would have to refuse for its size.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api(request):
            try:
                request.body  # noqa: B018 (read for Django's size check)
            except RequestDataTooBig:
                return too_large_response()
        return self.get_response(request)
