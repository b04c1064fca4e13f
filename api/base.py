"""What every API view shares: JSON, token scopes, throttling, idempotent POSTs.

JsonParser is every API view's parser (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).
"""

import codecs
import io
import re

from rest_framework import exceptions
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer

from api.idempotency import IdempotentMixin
from api.permissions import IsAuthenticated, TokenHasScope
from api.throttling import WriteThrottle
from config.text import LONE_SURROGATE, lone_surrogate_named

# A JSON escape of half a UTF-16 pair. Only a body holding one can decode to a lone
# surrogate, which is no character: it cannot be encoded, stored, or echoed in an error.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89abcdefABCDEF][0-9a-fA-F]{2}")


class JsonParser(JSONParser):
    """DRF's JSON parser, refusing as bad JSON a body nested too deeply or holding a lone
    surrogate (an escaped pair decodes to its one character and is accepted)."""

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
        except exceptions.ParseError as error:
            # Python's message for an int past its digit limit ends with advice to programmers.
            message = str(error.detail).partition("; use sys.set_int_max_str_digits")[0]
            raise exceptions.ParseError(message) from None
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        # In another encoding an escape is other bytes: such a (rare) body is always looked through.
        if codecs.lookup(encoding).name != "utf-8" or _SURROGATE_ESCAPE.search(body):
            _refuse_lone_surrogates(data)
        return data


def _refuse_lone_surrogates(data) -> None:
    """Raise ParseError naming a text in ``data`` (a value or a key) that holds a lone surrogate."""
    pending = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str):
            if found := LONE_SURROGATE.search(value):
                raise _lone_surrogate(path or "the body", found.group())
        elif isinstance(value, dict):
            for key, item in value.items():
                if found := LONE_SURROGATE.search(key):
                    raise _lone_surrogate(f"a key in {path or 'the body'}", found.group())
                pending.append((f"{path}.{key}" if path else key, item))
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))


def _lone_surrogate(where: str, surrogate: str) -> exceptions.ParseError:
    return exceptions.ParseError(
        f"JSON parse error - {where} holds {lone_surrogate_named(surrogate)}, "
        "which is no character."
    )


class AnyAccept:
    """Answer in the view's one media type whatever the Accept header asks; errors are JSON.

    For a body that is a file (a ZIP, CSV): DRF's content negotiation would refuse
    an Accept it cannot render with 406.
    """

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


class ApiMixin(IdempotentMixin):
    renderer_classes = [JSONRenderer]
    permission_classes = [IsAuthenticated, TokenHasScope]
    throttle_classes = [WriteThrottle]
    required_scopes: dict = {}
