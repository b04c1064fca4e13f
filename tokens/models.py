"""API tokens for machines: only a keyed hash of the secret is stored; browser sessions
(their model is in tokens.sessions, with the session engine)."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from config.roles import Scope
from tokens.sessions import BrowserSession

__all__ = ["ApiToken", "BrowserSession", "Scope", "TokenState", "token_state"]


class TokenState(models.TextChoices):
    """What a use of the token is answered: the first refusal that applies, in this order."""

    ACTIVE = "active", "Active"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"
    # Not revoked: reactivating the user makes the token usable again.
    USER_INACTIVE = "user_inactive", "Refused: user deactivated"


def token_state(
    *, revoked_at: datetime | None, expires_at: datetime, user_active: bool, now: datetime
) -> TokenState:
    """Return the state of a token with these facts at `now`.

    The one definition: authentication refuses a token in any state but ACTIVE,
    and every page, list and answer that shows a token's state shows this one.
    """
    if revoked_at is not None:
        return TokenState.REVOKED
    if expires_at <= now:
        return TokenState.EXPIRED
    if not user_active:
        return TokenState.USER_INACTIVE
    return TokenState.ACTIVE


class ApiTokenQuerySet(models.QuerySet):
    def in_state(self, state: TokenState, *, now: datetime) -> "ApiTokenQuerySet":
        """Return the tokens `token_state` puts in `state` at `now`, in one query.

        The same refusals in the same order as `token_state`: a revoked token
        is revoked whatever its expiry, an expired one expired whatever its
        user. `tests/api/test_token_state_filter.py` holds the two to agree.
        """
        live = models.Q(revoked_at__isnull=True, expires_at__gt=now)
        condition = {
            TokenState.REVOKED: models.Q(revoked_at__isnull=False),
            TokenState.EXPIRED: models.Q(revoked_at__isnull=True, expires_at__lte=now),
            TokenState.USER_INACTIVE: live & models.Q(user__is_active=False),
            TokenState.ACTIVE: live & models.Q(user__is_active=True),
        }[TokenState(state)]
        return self.filter(condition)


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    allowed_networks = models.JSONField(default=list, blank=True)
    # A token bound to agents reaches only them; one bound to none reaches what its user sees.
    agents = models.ManyToManyField(
        "agents.Agent",
        blank=True,
        related_name="api_tokens",
        help_text="The agents the token is limited to; none: every agent its user may see.",
    )
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.prefix} ({self.name})"

    def state(self, now: datetime | None = None) -> TokenState:
        """Return what a use of the token is answered at `now` (default: now)."""
        return token_state(
            revoked_at=self.revoked_at,
            expires_at=self.expires_at,
            user_active=self.user.is_active,
            now=now or timezone.now(),
        )
