"""What a session remembers of its sign-in: how and when, and what the provider said."""

import time

from django.contrib.auth import BACKEND_SESSION_KEY

from audit.actors import Authentication, AuthMethod, authentication_remember

PROVIDER_BACKEND = "identity.oidc.ProviderBackend"
# The provider's tokens and subject of an OIDC session (for renewal and logout).
OIDC_SESSION_KEY = "countersign_oidc"
# The states of the step-up flows under way, the latest STEP_UPS_KEPT of them.
STEP_UP_STATES_KEY = "countersign_oidc_step_up"
STEP_UPS_KEPT = 10


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


def step_up_started(session, state: str) -> None:
    """Remember that the flow of this state asks the provider to authenticate the person again."""
    states = [*session.get(STEP_UP_STATES_KEY, []), state]
    session[STEP_UP_STATES_KEY] = states[-STEP_UPS_KEPT:]


def step_up_answered(session, state: str) -> bool:
    """Return whether a callback of this state answers a step-up, forgetting the state."""
    states = session.get(STEP_UP_STATES_KEY, [])
    if state not in states:
        return False
    session[STEP_UP_STATES_KEY] = [other for other in states if other != state]
    return True


def provider_authentication(claims: dict, now: float, *, step_up: bool) -> Authentication:
    """Return an OIDC sign-in's authentication from its ID token's claims.

    `auth_time` is when the person proved who they were at the provider. Without
    it, only the answer to a step-up counts as now: that flow asked the provider
    to authenticate the person again (`prompt=login`, `max_age=0`). Any other
    flow may have been answered from the provider's own session, at a time
    unknown here, so it is never fresh.
    """
    auth_time = claims.get("auth_time")
    if isinstance(auth_time, int | float):
        at = min(float(auth_time), now)
    else:
        at = now if step_up else None
    amr = claims.get("amr")
    return Authentication(
        method=AuthMethod.OIDC,
        at=at,
        acr=str(claims.get("acr") or ""),
        amr=[str(item) for item in amr] if isinstance(amr, list) else [],
    )
