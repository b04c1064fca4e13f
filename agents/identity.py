"""Workload identity checks (pure Python, shared by agents and the manifest)."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.deconstruct import deconstructible

# The manifest's JSON Schema ($defs.spiffe_id) spells the same pattern; a test holds them
# together, and spiffe_id_errors to both.
SPIFFE_ID_PATTERN = r"^spiffe://[a-z0-9._-]{1,255}(/(?!\.\.?(/|$))[A-Za-z0-9._-]+)+$"

_TRUST_DOMAIN = re.compile(r"[a-z0-9._-]{1,255}")
_PATH_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")


def spiffe_id_errors(value: str) -> list[str]:
    """Return why ``value`` is not a valid workload SPIFFE ID (an empty list when it is)."""
    scheme = "spiffe://"
    if not value.startswith(scheme):
        return ["must start with 'spiffe://'"]
    problems = []
    rest = value[len(scheme) :]
    if re.search("[?#]", rest):
        problems.append("must not contain a query or fragment")
        rest = re.split("[?#]", rest, maxsplit=1)[0]
    trust_domain, _, path = rest.partition("/")
    if not _TRUST_DOMAIN.fullmatch(trust_domain):
        problems.append(
            "must have a trust domain of 1-255 lowercase letters, digits, '.', '-' or '_'"
        )
    if not path:
        problems.append("must have a workload path after the trust domain")
        return problems
    segments = path.split("/")
    if segments[-1] == "":
        problems.append("must not end with '/'")
    if "" in segments[:-1]:
        problems.append("must not contain empty path segments ('//')")
    if {".", ".."} & set(segments):
        problems.append("must not contain '.' or '..' path segments")
    if any(s and not _PATH_SEGMENT.fullmatch(s) for s in segments):
        problems.append("must have path segments of only letters, digits, '.', '-' and '_'")
    return problems


@deconstructible
class SpiffeIdValidator(RegexValidator):
    """Refuse what is not a workload SPIFFE ID, saying why; its regex tells the OpenAPI schema."""

    regex = SPIFFE_ID_PATTERN.removesuffix("$") + r"\Z"
    code = "invalid_spiffe_id"

    def __call__(self, value):
        problems = spiffe_id_errors(str(value))
        if problems:
            messages = [f"A SPIFFE ID {problem}." for problem in problems]
            raise ValidationError(messages, code=self.code)


validate_spiffe_id = SpiffeIdValidator()
