"""What a token's prefix is, and the URL converter that matches only a prefix.

A token string is its prefix (the marker and a random part), "_" and its
secret. The URLs naming a token match only a prefix, so a path naming anything
else (a NUL among it) is a 404 before any query reads it.
"""

TOKEN_PREFIX = "cs_"  # noqa: S105 - a marker, not a secret
# The random part of a prefix is this many bytes, written as twice as many hex digits.
PREFIX_RANDOM_BYTES = 4
PREFIX_PATTERN = rf"{TOKEN_PREFIX}[0-9a-f]{{{2 * PREFIX_RANDOM_BYTES}}}"


class TokenPrefixConverter:
    regex = PREFIX_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
