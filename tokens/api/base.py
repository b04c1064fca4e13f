"""What every API view shares: JSON, token scopes, throttling, idempotent POSTs."""

from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer

from tokens.idempotency import IdempotentMixin
from tokens.permissions import TokenHasScope
from tokens.throttling import WriteThrottle


class ApiMixin(IdempotentMixin):
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    permission_classes = [IsAuthenticated, TokenHasScope]
    throttle_classes = [WriteThrottle]
    required_scopes: dict = {}
