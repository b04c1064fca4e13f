"""Renewal of an OIDC session's rights from the provider, before any view runs.

When an OIDC session's rights are OIDC_RENEW_SECONDS old, its refresh token is
exchanged at the provider's token endpoint and the user's claims are read again
(the refreshed ID token's, if any, updated by userinfo's); the group mapping is
applied to them, so a group lost at the provider is lost here at that request.
A provider that refuses (the account disabled, the grant revoked), cannot be
reached, or issued no refresh token ends the session: fail closed.
"""

import logging
import time

from django.conf import settings
from django.contrib import auth, messages
from django.http import JsonResponse
from django.shortcuts import redirect

from config.errors import error_body
from identity.oidc import REFUSALS, ProviderBackend
from identity.sessions import OIDC_SESSION_KEY

logger = logging.getLogger(__name__)


class ProviderRenewalMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        state = request.session.get(OIDC_SESSION_KEY)
        if (
            state
            and time.time() - state.get("renewed_at", 0) >= settings.OIDC_RENEW_SECONDS
            and request.user.is_authenticated
        ):
            try:
                renew(request, state)
            except REFUSALS as error:
                logger.warning("OIDC session of %s ended: %s", request.user, error)
                return _signed_out(request)
        return self.get_response(request)


def renew(request, state: dict) -> None:
    """Renew the session's tokens and the user's rights from the provider, or raise."""
    if not settings.OIDC_ENABLED:
        raise ValueError("Single sign-on is no longer configured.")
    if not state.get("refresh_token"):
        raise ValueError("The provider issued no refresh token: sign in again.")
    backend = ProviderBackend()
    backend.request = request
    answer = backend.get_token(
        {
            "client_id": settings.OIDC_RP_CLIENT_ID,
            "client_secret": settings.OIDC_RP_CLIENT_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": state["refresh_token"],
        }
    )
    id_token = answer.get("id_token") or ""
    claims = backend.id_token_verify(id_token) if id_token else {"sub": state["sub"]}
    if str(claims.get("sub")) != state["sub"]:
        raise ValueError("The refreshed ID token names another subject.")
    user = backend.get_or_create_user(answer.get("access_token"), id_token, claims)
    if user.pk != request.user.pk or not user.is_active:
        raise ValueError("The provider's account is another user's or deactivated.")
    request.session[OIDC_SESSION_KEY] = {
        **state,
        "id_token": id_token or state.get("id_token", ""),
        "refresh_token": answer.get("refresh_token") or state["refresh_token"],
        "renewed_at": time.time(),
    }
    # The user object of this request predates the renewal: read the rights again.
    request.user = user


def _signed_out(request):
    auth.logout(request)
    message = "Your single sign-on session ended at the identity provider: sign in again."
    if request.path.startswith("/api/"):
        return JsonResponse(error_body("signed_out", message), status=401)
    messages.warning(request, message)
    return redirect(settings.LOGIN_URL)
