"""Who may read, export and verify the audit trail."""

from rest_framework.permissions import BasePermission

from config.roles import AUDIT_READER_GROUPS, Scope, scope_granted


def can_read_audit(user) -> bool:
    """Tell whether the user may read the audit trail: staff and the compliance groups may."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_staff or user.groups.filter(name__in=AUDIT_READER_GROUPS).exists()


class HasScope(BasePermission):
    """Allow a token carrying one of `scopes` whose user's role grants it, or a session
    whose user `session_allowed` admits (an audit reader's).

    The token authentication (tokens.authentication) puts the token in
    `request.auth`; a token is admitted on its scope and its user's role
    (config.roles.SCOPE_GROUPS), a session on its user.
    """

    scopes: tuple[str, ...] = ()
    message = "Reading the audit trail needs staff, a compliance group or the audit:read scope."

    def has_permission(self, request, view):
        held = getattr(request.auth, "scopes", None)
        if held is not None:
            return any(s in held and scope_granted(request.user, s) for s in self.scopes)
        return self.session_allowed(request.user)

    def session_allowed(self, user) -> bool:
        return can_read_audit(user)


class AuditReader(HasScope):
    scopes = (Scope.AUDIT_READ,)


class SigningKeyReader(HasScope):
    """Allow whoever verifies what the signing key signs to read its public half.

    Audit readers verify checkpoints and evidence bundles with it; a gateway holding a
    `decisions:evaluate` token verifies the policy bundles it polls, and anyone signed in
    may download a bundle and its signature from the package page. The key is public,
    but like every API answer it goes to a token or a session only.
    """

    scopes = (Scope.AUDIT_READ, Scope.DECISIONS_EVALUATE)
    message = "Reading the signing key needs the audit:read or decisions:evaluate scope."

    def session_allowed(self, user) -> bool:
        return bool(user and user.is_authenticated)
