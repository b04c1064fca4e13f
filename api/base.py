"""What every API view shares: JSON, token scopes, throttling, idempotent POSTs.

JsonParser is every API view's parser (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).
"""

from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from api.idempotency import IdempotentMixin
from api.permissions import IsAuthenticated, TokenHasScope
from api.throttling import WriteThrottle


class JsonParser(JSONParser):
    """DRF's JSON parser, refusing a body nested too deeply to read as any other bad JSON."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None


class ApiMixin(IdempotentMixin):
    renderer_classes = [JSONRenderer]
    permission_classes = [IsAuthenticated, TokenHasScope]
    throttle_classes = [WriteThrottle]
    required_scopes: dict = {}
