"""API tokens for machines: only a keyed hash of the secret is stored."""

from django.conf import settings
from django.db import models

from config.roles import Scope

__all__ = ["ApiToken", "IdempotencyRecord", "Scope"]


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, unique=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    allowed_networks = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.prefix} ({self.name})"


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an Idempotency-Key, replayed on a retry.

    `principal` names who sent it (``token:<id>`` or ``user:<id>``), so two
    clients never see each other's answers. `status_code` is null while the
    first request is still running.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    principal = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # JSON text rather than a JSON column: PostgreSQL's jsonb refuses \u0000, which an
    # error message may quote back from the request.
    response_body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="one_answer_per_key")
        ]

    def __str__(self):
        return f"{self.principal} {self.key}"
