"""Bearer-token authentication for the API."""

from functools import partial

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from api.permissions import ScopeNotGranted
from audit.actors import Actor
from config.clients import client_address
from config.roles import scope_groups_held
from tokens.models import ApiToken, TokenState, token_state
from tokens.selectors import RequestToken, token_for_secret
from tokens.services import network_allowed, token_touch

# What a token in each state but ACTIVE is answered: the message and its code.
REFUSALS = {
    TokenState.REVOKED: ("The token was revoked.", "token_revoked"),
    TokenState.EXPIRED: ("The token has expired.", "token_expired"),
    TokenState.USER_INACTIVE: ("The token's user is inactive.", "user_inactive"),
}


def _refuse_unless_active(state: TokenState) -> None:
    if state != TokenState.ACTIVE:
        message, code = REFUSALS[state]
        raise exceptions.AuthenticationFailed(message, code=code)


class NetworkNotAllowed(exceptions.PermissionDenied):
    default_detail = "This token may not be used from this network."
    default_code = "network_not_allowed"


class TokenAuthentication(BaseAuthentication):
    """Authenticate ``Authorization: Bearer <token>``; one query reads the token.

    `request.auth` is then a `tokens.selectors.RequestToken`, and `request.user`
    the token's user, loaded when first used (`token_user`).
    """

    keyword = "bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        keyword, _, secret = header.partition(" ")
        if keyword.lower() != self.keyword:
            return None
        secret = secret.strip()
        if not secret or " " in secret:
            raise exceptions.AuthenticationFailed(
                "Send the token as 'Authorization: Bearer <token>'.", code="invalid_token"
            )
        token = token_for_secret(secret)
        if token is None:
            raise exceptions.AuthenticationFailed("The token is not valid.", code="invalid_token")
        now = timezone.now()
        _refuse_unless_active(token.state(now))
        # Only a token limited to networks needs the client's address worked out.
        if token.allowed_networks and not network_allowed(token, client_address(request)):
            raise NetworkNotAllowed()
        token_touch(token=token, now=now)
        return token_user(token), token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


def token_user(token: RequestToken):
    """Return the token's user, read from the database only when first used.

    What authentication asks of a token's user (who, whether active) the token
    read carries; a check that needs nothing more, such as the release gate's,
    never loads the user's row. Django's session authentication gives its user
    the same way.
    """
    return SimpleLazyObject(partial(get_user_model().objects.get, pk=token.user_id))


def actor_for(request) -> Actor:
    """Return the actor of an API request: its user, and the token when one was used.

    Without a token the request is a signed-in browser session's, and the actor
    carries how that session authenticated.
    """
    token = request.auth if isinstance(request.auth, RequestToken) else None
    if token is None:
        return Actor.for_session(request)
    return Actor.for_token(
        request.user,
        user_id=token.user_id,
        username=token.username,
        token=token,
        confirm=partial(token_confirm, token, scope=getattr(request, "token_scope", None)),
    )


def token_confirm(token: RequestToken, scope: str | None = None) -> None:
    """Lock the token's row until the commit and refuse the token unless it is still active
    and its user still holds the rights its request was admitted with.

    The actor of a token's request runs it before each of its events (`Actor.confirm`):
    its first event's is before the transaction takes the audit chain's lock, as
    approvals.locks orders locks, and a later one's reads a row the transaction holds.
    A service deciding from the user's rights runs it first once it holds the user's row
    (agents.membership.actor_user_lock), so a withdrawal it waited for is answered here.
    A revocation locks the same row before its own event, and so does a deactivation
    of the token's user, or a withdrawal of their groups, staff or superuser status
    (tokens.services.user_tokens_lock): either the write commits first and its events
    precede theirs in the trail, or it reads the change here and is refused with
    nothing written: as authentication refuses the token (401) when it is revoked,
    expired or its user inactive; as the scope check refuses it (403
    `scope_not_granted`) when the user's role no longer grants `scope`, the scope the
    request was admitted with (api.permissions.TokenHasScope), or the user lost the
    staff or superuser status they held when the token was read, which widen what
    every check let the request touch. No write of the token waits longer for it: it
    is held from just before the chain's lock, which every write holds until its
    commit, or from the user's row lock, which serializes the writes deciding from the
    user's rights; `token_touch` (at most once a LAST_USED_RESOLUTION) waits for it as
    for that commit. The row alone is locked: the user's stays free, as token_revoke
    leaves it.

    The user is read by a statement of its own, once the lock is granted: under READ
    COMMITTED it sees a change that committed while the lock waited, which the locking
    statement, reading the user's row as it started, would not. The same statement
    reads whether the user's groups grant `scope`, so the re-check adds no query.
    """
    try:
        revoked_at, expires_at = (
            ApiToken.objects.select_for_update(no_key=True)
            .values_list("revoked_at", "expires_at")
            .get(pk=token.pk)
        )
    except ApiToken.DoesNotExist:
        raise exceptions.AuthenticationFailed(
            "The token is not valid.", code="invalid_token"
        ) from None
    held = scope_groups_held(scope) if scope else None
    users = get_user_model().objects.filter(pk=token.user_id)
    if held is not None:
        users = users.annotate(in_scope_groups=held)
    user = users.values(
        "is_active", "is_staff", "is_superuser", *(["in_scope_groups"] if held is not None else [])
    ).get()
    _refuse_unless_active(
        token_state(
            revoked_at=revoked_at,
            expires_at=expires_at,
            user_active=user["is_active"],
            now=timezone.now(),
        )
    )
    if token.user_staff and not user["is_staff"]:
        raise ScopeNotGranted("The token's user is no longer staff.")
    if token.user_superuser and not user["is_superuser"]:
        raise ScopeNotGranted("The token's user is no longer a superuser.")
    if held is not None and not (user["is_staff"] or user["in_scope_groups"]):
        raise ScopeNotGranted(f"The token's user is no longer granted the {scope!s} scope.")


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "tokens.authentication.TokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API token (`cs_...`), created on the API tokens page, by a signed-in "
                "`POST /api/v1/tokens` or with `manage.py token create`."
            ),
        }
