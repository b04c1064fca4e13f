"""Idempotency-Key for POSTs: a retry gets the first answer instead of a second effect."""

import json

from rest_framework.response import Response

from api.principal import principal_of
from api.services import (
    idempotency_claim,
    idempotency_release,
    idempotency_store,
    request_fingerprint,
)

HEADER = "HTTP_IDEMPOTENCY_KEY"
# Answers that say nothing about the request itself are not kept: a retry runs again. A
# 401 reaches a claimed key when the token is refused at the write's own check
# (`tokens.authentication.token_confirm`): its user reactivated, a retry may succeed.
NOT_KEPT = {401, 429}
# Nor a 403 of the same check finding the user's role withdrawn: granted again, it may too.
NOT_KEPT_CODES = {"scope_not_granted"}


class _Replay(Exception):
    def __init__(self, response: Response):
        self.response = response


class IdempotentMixin:
    """Honour an Idempotency-Key on POST for a DRF view.

    The key is claimed after authentication, permissions and throttling, so a
    refused request leaves nothing behind; the answer is kept unless it is a
    server error or a throttle, in which case the claim is released.
    """

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        key = request.META.get(HEADER)
        if request.method != "POST" or key is None:
            return
        principal = principal_of(request)
        # The body was read, within its limit, by api.middleware.ApiBodyLimitMiddleware.
        fingerprint = request_fingerprint(request.method, request.path, request.body)
        record, replay = idempotency_claim(
            user=request.user, principal=principal, key=key, request_hash=fingerprint
        )
        if replay:
            body = json.loads(record.response_body) if record.response_body else None
            response = Response(body, status=record.status_code)
            response["Idempotent-Replayed"] = "true"
            raise _Replay(response)
        request.idempotency_record = record

    def handle_exception(self, exc):
        if isinstance(exc, _Replay):
            return exc.response
        try:
            return super().handle_exception(exc)
        except Exception:
            self._idempotency_release()
            raise

    def finalize_response(self, request, response, *args, **kwargs):
        record = getattr(request, "idempotency_record", None)
        if record is not None:
            request.idempotency_record = None
            if (
                response.status_code >= 500
                or response.status_code in NOT_KEPT
                or _error_code(response) in NOT_KEPT_CODES
            ):
                idempotency_release(record=record)
            else:
                idempotency_store(
                    record=record,
                    status_code=response.status_code,
                    body=getattr(response, "data", None),
                )
        return super().finalize_response(request, response, *args, **kwargs)

    def _idempotency_release(self):
        record = getattr(self.request, "idempotency_record", None)
        if record is not None:
            self.request.idempotency_record = None
            idempotency_release(record=record)


def _error_code(response) -> str | None:
    error = getattr(response, "data", None)
    error = error.get("error") if isinstance(error, dict) else None
    return error.get("code") if isinstance(error, dict) else None
