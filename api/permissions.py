"""Which token scope each API operation needs."""

from rest_framework import exceptions
from rest_framework.permissions import BasePermission


class InsufficientScope(exceptions.PermissionDenied):
    default_code = "insufficient_scope"


class TokenHasScope(BasePermission):
    """Refuse a token lacking the scope the view names for this method (403).

    Views declare ``required_scopes = {"POST": Scope.X, ...}``; a method not
    listed needs no particular scope. Browser sessions are not limited by
    scopes: the services' own permission checks apply to them as to tokens.
    """

    def has_permission(self, request, view):
        scopes = getattr(request.auth, "scopes", None)
        if scopes is None:
            return True
        getter = getattr(view, "get_required_scope", None)
        scope = getter(request) if getter else view.required_scopes.get(request.method)
        if scope is None or scope in scopes:
            return True
        raise InsufficientScope(f"This token lacks the {scope!s} scope.")
