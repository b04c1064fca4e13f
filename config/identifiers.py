"""What an identifier may hold, defined once: no control and no format characters.

An identifier (an agent's slug, team or log principal, a SPIFFE ID, a
username, a manifest's tool, dataset or model id, an observation's
identifier) is compared, logged, shown and exported. A control character
(Unicode category Cc: NUL, BEL, ESC...) in one can rewrite a terminal or a log
line; a format character (Cf: bidirectional overrides such as U+202E,
zero-width characters) can make two different identifiers look alike. Both are
refused. Text that people write (descriptions, justifications, comments) is not
an identifier: it keeps what they typed, and the pages escape it.

REFUSED_CHARACTERS is the refused set as the body of a regular-expression
character class that Python, jsonschema-rs and ECMA-262 read alike: code points
of the Basic Multilingual Plane as `\\uXXXX` escapes, the few above it as the
characters themselves (ECMA-262 without the `u` flag has no escape for them).
The manifest's JSON Schema and the OpenAPI schema use IDENTIFIER_PATTERN; tests
hold both, and this set, to Unicode's categories for every code point.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

REFUSED_CHARACTERS = (
    r"\u0000-\u001f\u007f-\u009f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2"
    r"\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)
# As JSON Schema and OpenAPI spell it ($ is the end of the text in ECMA-262).
IDENTIFIER_PATTERN = f"^[^{REFUSED_CHARACTERS}]*$"
# A slug as a lookup takes it (the agents a token binds): ASCII letters, digits, "-", "_".
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
# An agent's slug as it is registered: what a manifest's `agent` may name (its JSON Schema's
# `$defs.slug`, held to this by a test), and what URLs and file names carry as it is.
AGENT_SLUG_MAX_LENGTH = 63
AGENT_SLUG_PATTERN = rf"^[a-z0-9][a-z0-9-]{{1,{AGENT_SLUG_MAX_LENGTH - 1}}}$"
AGENT_SLUG_RULE = (
    f"2 to {AGENT_SLUG_MAX_LENGTH} lowercase letters, digits or '-', "
    "starting with a letter or digit."
)
AGENT_SLUG_MESSAGE = f"Must be {AGENT_SLUG_RULE}"
MESSAGE = "must not contain control or format characters"

_REFUSED = re.compile(f"[{REFUSED_CHARACTERS}]")
# The whole text must match ($ in Python also matches before a final newline).
_AGENT_SLUG = re.compile(AGENT_SLUG_PATTERN.removeprefix("^").removesuffix("$"))


def agent_slug_message(slug: str) -> str:
    """Return why ``slug`` cannot be an agent's slug, or "" when it can."""
    return "" if _AGENT_SLUG.fullmatch(slug) else AGENT_SLUG_MESSAGE


def identifier_errors(value: str) -> list[str]:
    """Return why ``value`` cannot be an identifier (an empty list when it can)."""
    found = sorted({f"U+{ord(char):04X}" for char in _REFUSED.findall(value)})
    if not found:
        return []
    return [f"{MESSAGE} (found {', '.join(found)})"]


def identifier_message(value: str) -> str:
    """Return why ``value`` cannot be an identifier as a sentence, or "" when it can."""
    problems = identifier_errors(value)
    return f"{problems[0][0].upper()}{problems[0][1:]}." if problems else ""


@deconstructible
class IdentifierValidator:
    """Refuse an identifier holding a control or format character, naming the ones found.

    The OpenAPI schema gives a field with this validator IDENTIFIER_PATTERN (api.openapi).
    """

    code = "control_character"

    def __eq__(self, other):
        return isinstance(other, IdentifierValidator)

    def __call__(self, value):
        message = identifier_message(str(value))
        if message:
            raise ValidationError(message, code=self.code)


validate_identifier = IdentifierValidator()
