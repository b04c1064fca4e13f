"""The URL converter of a token's prefix, used by the API's and the pages' token URLs.

It matches only what a prefix can be (tokens.services.PREFIX_PATTERN): a path
naming anything else is a 404 before any query reads it.
"""

from tokens.services import PREFIX_PATTERN


class TokenPrefixConverter:
    regex = PREFIX_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
