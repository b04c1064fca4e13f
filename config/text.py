"""What no text can hold, defined once: a lone surrogate.

Half of a UTF-16 pair, which a JSON escape ("\\ud800") can give alone, is no
character: it cannot be encoded as UTF-8, digested, stored or shown. The API's
JSON parser and the manifest reader refuse it with the same words.
"""

import re

LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate_named(surrogate: str) -> str:
    """Name a lone surrogate by its escape: a message cannot hold it, as no text can."""
    return f"\\u{ord(surrogate):04x}, half of a UTF-16 pair without its other half"
