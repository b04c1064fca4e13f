"""API tokens for machines: only a keyed hash of the secret is stored."""

from django.conf import settings
from django.db import models

from config.roles import Scope

__all__ = ["ApiToken", "Scope"]


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

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.prefix} ({self.name})"
