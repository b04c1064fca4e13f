"""Which token scope each API operation needs, whether the token's user may still use it, and
the refusal a view raises before it reads the body."""

from rest_framework import exceptions, permissions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from config.errors import NotPermitted
from config.roles import Scope, scope_granted, scope_open


class InsufficientScope(exceptions.PermissionDenied):
    default_code = "insufficient_scope"


class ScopeNotGranted(exceptions.PermissionDenied):
    default_code = "scope_not_granted"


class IsAuthenticated(permissions.IsAuthenticated):
    """DRF's check, answered from the token when there is one, without loading its user.

    The token authentication admits only an active user's token.
    """

    def has_permission(self, request, view):
        if getattr(request.auth, "user_id", None) is not None:
            return True
        return super().has_permission(request, view)


class TokenHasScope(BasePermission):
    """Refuse a token lacking the scope the view names for this method (403).

    Views declare ``required_scopes = {"POST": Scope.X, ...}``; a read method
    not listed needs the view's ``read_scope`` (agents:read unless it names
    another), any other method not listed none in particular. The user's role
    is checked on every use as well as at the token's creation: a user who
    left a group keeps tokens that no longer carry its scopes. The scope
    admitted is kept as `request.token_scope` for the write's own check
    (`tokens.authentication.token_confirm`). Browser
    sessions are not limited by scopes: the services' own permission checks
    apply to them as to tokens.
    """

    def has_permission(self, request, view):
        scopes = getattr(request.auth, "scopes", None)
        if scopes is None:
            return True
        getter = getattr(view, "get_required_scope", None)
        scope = getter(request) if getter else view.required_scopes.get(request.method)
        if scope is None and request.method in SAFE_METHODS:
            scope = getattr(view, "read_scope", Scope.AGENTS_READ)
        # The token's writes check the scope again under their token's lock, against the
        # user's role as a withdrawal of it committed meanwhile leaves it (token_confirm).
        request.token_scope = scope
        if scope is None:
            return True
        if scope not in scopes:
            raise InsufficientScope(f"This token lacks the {scope!s} scope.")
        # The token's user is active (authentication saw to it); a scope open to every
        # active user needs nothing more of them, so their row is not loaded for it.
        if not scope_open(scope) and not scope_granted(request.user, scope):
            raise ScopeNotGranted(f"The token's user is no longer granted the {scope!s} scope.")
        return True


def refuse_unless(check) -> None:
    """Raise the refusal of a falsy `can_*` answer (403 with its code), as its service would.

    A view asks the rule before it reads the body, so a caller the rule refuses gets the
    same 403 whatever they sent, never field errors for a request they may not make. The
    service asks the rule again under its row lock and stays the authority.
    """
    if not check:
        raise NotPermitted(check.message, code=check.code)
