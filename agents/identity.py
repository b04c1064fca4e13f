"""Workload identity checks (pure Python, shared by forms, the API and the manifest)."""

import re

_TRUST_DOMAIN = re.compile(r"^[a-z0-9._-]+$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._-]+$")


def spiffe_id_problem(value: str) -> str:
    """Return why the value is not a valid SPIFFE ID, or '' when it is one."""
    if not isinstance(value, str) or not value.startswith("spiffe://"):
        return "A SPIFFE ID starts with spiffe://."
    if len(value) > 2048:
        return "A SPIFFE ID is at most 2048 characters."
    rest = value[len("spiffe://") :]
    if "?" in rest or "#" in rest:
        return "A SPIFFE ID has no query or fragment."
    domain, _, path = rest.partition("/")
    if not domain or not _TRUST_DOMAIN.match(domain):
        return "The trust domain must be lowercase letters, digits, dots, dashes or underscores."
    if not path:
        return "A workload SPIFFE ID needs a path after the trust domain."
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            return "Path segments must not be empty, '.' or '..' (no trailing slash)."
        if not _SEGMENT.match(segment):
            return f"Path segment {segment!r} has characters a SPIFFE ID does not allow."
    return ""
