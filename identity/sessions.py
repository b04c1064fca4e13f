"""What a session remembers of its sign-in: how and when, and what the provider said."""

import time

from django.contrib.auth import BACKEND_SESSION_KEY

from audit.actors import Authentication, AuthMethod, authentication_remember

PROVIDER_BACKEND = "identity.oidc.ProviderBackend"
# The provider's tokens and subject of an OIDC session (for renewal and logout).
OIDC_SESSION_KEY = "countersign_oidc"


def sign_in_remember(sender, request, user, **kwargs):
    """Record a sign-in's method and time in its session (Django's user_logged_in signal).

    Every sign-in goes through django.contrib.auth's login(), the page's, the
    admin's and the tests' alike, so each one counts as fresh. An OIDC sign-in
    then replaces this with the provider's own account of it (oidc.py).
    """
    if request is None:
        return
    is_provider = request.session.get(BACKEND_SESSION_KEY) == PROVIDER_BACKEND
    method = AuthMethod.OIDC if is_provider else AuthMethod.PASSWORD
    authentication_remember(request.session, Authentication(method=method, at=time.time()))


def provider_authentication(claims: dict, now: float) -> Authentication:
    """Return an OIDC sign-in's authentication from its ID token's claims.

    `auth_time` is when the person proved who they were at the provider; a
    provider that does not send it was asked to authenticate just now.
    """
    auth_time = claims.get("auth_time")
    at = float(auth_time) if isinstance(auth_time, int | float) else now
    amr = claims.get("amr")
    return Authentication(
        method=AuthMethod.OIDC,
        at=min(at, now),
        acr=str(claims.get("acr") or ""),
        amr=[str(item) for item in amr] if isinstance(amr, list) else [],
    )
