"""The reason a person gives for a consequential act, defined once.

Suspending or retiring an agent, asking for an emergency release and
reassigning a sign-off each need a reason: it is recorded in the audit trail
(and, for a suspension, sent with the kill-switch webhook). The services check
it here; the forms and serializers that take one cap it at the same length.
"""

from config.errors import InvalidInput

REASON_MAX_LENGTH = 2000


def reason_checked(reason: str | None) -> str:
    """Return the reason stripped, or refuse a missing or overlong one naming the field."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why.", fields={"reason": ["A reason is required."]})
    if len(reason) > REASON_MAX_LENGTH:
        raise InvalidInput(
            "The reason is too long.",
            fields={"reason": [f"At most {REASON_MAX_LENGTH} characters."]},
        )
    return reason
