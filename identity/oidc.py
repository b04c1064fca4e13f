"""OpenID Connect sign-in through mozilla-django-oidc: the backend and its three views.

The library runs the authorization code flow with PKCE and a nonce; this module
adds what it leaves to its users: endpoints from discovery (discovery.py), the
ID token's issuer, audience and times checked with its signature, users found by
their provider account (models.ProviderIdentity) and their rights mapped from the
provider's groups at every sign-in (mapping.py), and a sign-in's authentication
(auth_time, acr, amr) kept in its session for step-up and for the decisions.
"""

import logging
import re
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import reverse
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)

from audit.actors import authentication_remember
from config.errors import ApplicationError
from identity.discovery import DiscoveryError, oidc_setting
from identity.mapping import group_map, provider_groups
from identity.services import provider_user_sign_in
from identity.sessions import (
    OIDC_SESSION_KEY,
    provider_authentication,
    step_up_answered,
    step_up_started,
)

logger = logging.getLogger(__name__)

# What a refused sign-in may have raised: a token refused, the provider unreachable
# or answering an error, the account refused here.
REFUSALS = (
    SuspiciousOperation,
    requests.RequestException,
    jwt.PyJWTError,
    DiscoveryError,
    ApplicationError,
    KeyError,
    ValueError,
)
USERNAME_FORBIDDEN = re.compile(r"[^\w.@+-]")


def _setting(name):
    return property(lambda self: oidc_setting(name))


class ProviderBackend(OIDCAuthenticationBackend):
    """The OIDC backend; settings are read when used, so no request waits on discovery early."""

    get_settings = staticmethod(oidc_setting)
    OIDC_OP_TOKEN_ENDPOINT = _setting("OIDC_OP_TOKEN_ENDPOINT")
    OIDC_OP_USER_ENDPOINT = _setting("OIDC_OP_USER_ENDPOINT")
    OIDC_OP_JWKS_ENDPOINT = _setting("OIDC_OP_JWKS_ENDPOINT")
    OIDC_RP_CLIENT_ID = _setting("OIDC_RP_CLIENT_ID")
    OIDC_RP_CLIENT_SECRET = _setting("OIDC_RP_CLIENT_SECRET")
    OIDC_RP_SIGN_ALGO = _setting("OIDC_RP_SIGN_ALGO")
    # Keys always come from the provider's JWKS.
    OIDC_RP_IDP_SIGN_KEY = None

    def __init__(self, *args, **kwargs):
        self.UserModel = get_user_model()

    def get_user(self, user_id):
        """Return a session's user while the account is active here, as ModelBackend does.

        A user deactivated here loses their session at the next request, not at
        the next renewal from the provider.
        """
        user = super().get_user(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def authenticate(self, request, **kwargs):
        """Return the user of a valid provider sign-in; None, with its reason kept, otherwise."""
        try:
            return super().authenticate(request, **kwargs)
        except REFUSALS as error:
            logger.warning("OIDC sign-in refused: %s", error)
            request.oidc_refusal = str(error) or error.__class__.__name__
            return None

    def get_payload_data(self, token, key):
        """Return the ID token's claims once its signature, issuer, audience and times hold."""
        header = jwt.get_unverified_header(token)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"ID token signed with {header.get('alg')!r}.")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_ISSUER,
                leeway=settings.OIDC_LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise SuspiciousOperation(f"ID token refused: {error}") from error
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1:
            if claims.get("azp") != self.OIDC_RP_CLIENT_ID:
                raise SuspiciousOperation("ID token refused: issued to another party (azp).")
        return claims

    def retrieve_matching_jwk(self, token):
        """Return the provider's key that signed the token: the one of its `kid`, or the only one.

        A token without `kid` is accepted only from a JWKS holding one signing key
        of its algorithm.
        """
        answer = requests.get(self.OIDC_OP_JWKS_ENDPOINT, timeout=settings.OIDC_TIMEOUT)
        answer.raise_for_status()
        header = jwt.get_unverified_header(token)
        keys = [
            key
            for key in answer.json().get("keys", [])
            if key.get("use", "sig") == "sig"
            and key.get("alg", header.get("alg")) == header.get("alg")
            and ("kid" not in header or key.get("kid") == header["kid"])
        ]
        if len(keys) != 1:
            raise SuspiciousOperation("No single key of the provider's JWKS matches the ID token.")
        return jwt.PyJWK(keys[0], algorithm=self.OIDC_RP_SIGN_ALGO)

    def id_token_verify(self, token: str) -> dict:
        """Return a verified ID token's claims (signature, issuer, audience, times; no nonce)."""
        return self.get_payload_data(token, self.retrieve_matching_jwk(token))

    def get_token(self, payload):
        answer = super().get_token(payload)
        self.request.oidc_tokens = answer
        return answer

    def get_userinfo(self, access_token, id_token, payload):
        """Return the ID token's claims updated by the userinfo endpoint's, for the same subject."""
        if not self.OIDC_OP_USER_ENDPOINT:
            return dict(payload)
        info = super().get_userinfo(access_token, id_token, payload)
        if info.get("sub") != payload["sub"]:
            raise SuspiciousOperation("The userinfo answer names another subject.")
        return {**payload, **info}

    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def get_or_create_user(self, access_token, id_token, payload):
        claims = self.get_userinfo(access_token, id_token, payload)
        if not self.verify_claims(claims):
            raise SuspiciousOperation("The provider named no subject.")
        mapping = group_map()
        user = provider_user_sign_in(
            issuer=settings.OIDC_ISSUER,
            subject=str(claims["sub"]),
            username=username_from(claims),
            email=str(claims.get("email") or ""),
            rights=mapping.rights(provider_groups(claims)),
            mapping=mapping,
        )
        self.request.oidc_claims = payload
        return user


def username_from(claims: dict) -> str:
    """Return a new user's username: the configured claim, else the email, else the subject."""
    for name in (settings.OIDC_USERNAME_CLAIM, "email", "sub"):
        value = str(claims.get(name) or "").strip()
        if value:
            return USERNAME_FORBIDDEN.sub("-", value)[:150]
    raise SuspiciousOperation("The provider named no subject.")


def _refused(request, reason: str):
    messages.error(request, f"Single sign-on failed: {reason}")
    return redirect(settings.LOGIN_REDIRECT_URL_FAILURE)


class ProviderSignInView(OIDCAuthenticationRequestView):
    """Send the browser to the provider; `?step_up=1` asks it to authenticate the person again."""

    get_settings = staticmethod(oidc_setting)
    OIDC_OP_AUTH_ENDPOINT = _setting("OIDC_OP_AUTHORIZATION_ENDPOINT")
    OIDC_RP_CLIENT_ID = _setting("OIDC_RP_CLIENT_ID")

    def __init__(self, *args, **kwargs):
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    def get(self, request):
        if not settings.OIDC_ENABLED:
            raise Http404("Single sign-on is not configured.")
        try:
            response = super().get(request)
        except DiscoveryError as error:
            logger.warning("OIDC sign-in not started: %s", error)
            return _refused(request, "the identity provider cannot be reached.")
        if request.GET.get("step_up"):
            (state,) = parse_qs(urlsplit(response.url).query)["state"]
            step_up_started(request.session, state)
        return response

    def get_extra_params(self, request):
        if request.GET.get("step_up"):
            return {"prompt": "login", "max_age": "0"}
        return {}


class ProviderCallbackView(OIDCAuthenticationCallbackView):
    """Sign the user in from the provider's answer, and keep how they authenticated."""

    get_settings = staticmethod(oidc_setting)

    def get(self, request):
        if not settings.OIDC_ENABLED:
            raise Http404("Single sign-on is not configured.")
        # Read before the library forgets the state: only the provider's answer to a
        # sign-in this browser started names one its session holds.
        state = request.GET.get("state")
        request.oidc_answered = state in request.session.get("oidc_states", {})
        if request.GET.get("error") and not request.oidc_answered:
            # An error answering no sign-in of this browser's is a link anyone can make: the
            # library would sign the person out on it.
            return self.login_failure()
        try:
            return super().get(request)
        except REFUSALS as error:
            logger.warning("OIDC callback refused: %s", error)
            request.oidc_refusal = str(error)
            return self.login_failure()

    def login_failure(self):
        """Say why the sign-in failed; the provider's words only in the provider's answer.

        Anyone can link to the callback with an `error_description` of their own, which
        the sign-in page would show as the site's message.
        """
        reason = getattr(self.request, "oidc_refusal", "")
        said = self.request.GET.get("error_description") or self.request.GET.get("error")
        if not reason and said:
            logger.warning("OIDC callback answered an error: %r", said)
            if getattr(self.request, "oidc_answered", False):
                reason = said
        return _refused(self.request, reason or "the sign-in was not completed")

    def login_success(self):
        # Read before login(), which starts a new session when another user signs in.
        step_up = step_up_answered(self.request.session, self.request.GET.get("state", ""))
        response = super().login_success()
        now = time.time()
        claims = self.request.oidc_claims
        tokens = getattr(self.request, "oidc_tokens", {})
        authentication_remember(
            self.request.session, provider_authentication(claims, now, step_up=step_up)
        )
        self.request.session[OIDC_SESSION_KEY] = {
            "sub": str(claims["sub"]),
            "id_token": tokens.get("id_token", ""),
            "refresh_token": tokens.get("refresh_token", ""),
            "renewed_at": now,
        }
        return response


class ProviderLogoutView(OIDCLogoutView):
    """Sign out here, and at the provider too when the session came from it."""

    get_settings = staticmethod(oidc_setting)

    def post(self, request):
        target = self.redirect_url
        state = request.session.get(OIDC_SESSION_KEY)
        if state and settings.OIDC_ENABLED and request.user.is_authenticated:
            try:
                end_session = oidc_setting("OIDC_OP_LOGOUT_ENDPOINT", "")
            except DiscoveryError:
                end_session = ""
            if end_session:
                query = {
                    "id_token_hint": state.get("id_token", ""),
                    "client_id": settings.OIDC_RP_CLIENT_ID,
                    "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
                }
                target = f"{end_session}?{urlencode(query)}"
        auth.logout(request)
        return HttpResponseRedirect(target)
