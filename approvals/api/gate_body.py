"""How the release gate reads its request body: never by raising.

The gate answers a bad body as a deny (a CI step fails closed on it), never a 4xx.
A parser that raised would not always reach the view: a signed-in session's CSRF
check reads the body's form fields, which parses the body inside authentication,
and an error raised there is answered 400 or 415 before the gate is asked. These
parsers return an UnreadBody instead, which the view denies.
"""

from collections.abc import Mapping

from rest_framework import exceptions
from rest_framework.parsers import BaseParser

from api.base import JsonParser
from approvals.api.serializers import gate_request


class UnreadBody:
    """A request body the gate could not read, and why."""

    def __init__(self, detail: str):
        self.detail = detail


class GateJsonParser(JsonParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except exceptions.ParseError as error:
            return UnreadBody(str(error.detail))


class GateOtherParser(BaseParser):
    """Any media type but JSON: unread, in DRF's words for it."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return UnreadBody(str(exceptions.UnsupportedMediaType(media_type).detail))


GATE_PARSERS = [GateJsonParser, GateOtherParser]


def named_agent(data) -> str:
    """Return the agent slug a read body names, read as a valid request reads it; else "".

    Only the agent field is read again, so it cannot raise whatever else the body holds:
    the gate keeps the name when a check fails after reading the body.
    """
    agent = data.get("agent") if isinstance(data, Mapping) else None
    values, errors = gate_request({"agent": agent})
    return "" if "agent" in errors else values["agent"]
