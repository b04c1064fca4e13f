"""The answers kept for POSTs sent with an Idempotency-Key."""

from django.conf import settings
from django.db import models


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
