"""Who sent an API request, as the throttles and the idempotency records key it."""


def principal_of(request) -> str | None:
    """Return ``token:<id>`` for a token, ``user:<id>`` for a session, or None when anonymous.

    The token authentication puts the token in `request.auth`; a session leaves it None.
    """
    if getattr(request.auth, "pk", None) is not None:
        return f"token:{request.auth.pk}"
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return None
