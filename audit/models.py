"""The append-only, hash-chained audit trail."""

from django.conf import settings
from django.db import models

from audit.actors import ActorType


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit events are append-only and cannot be updated.")

    def delete(self):
        raise PermissionError("Audit events are append-only and cannot be deleted.")


class AuditEvent(models.Model):
    """One state change or gate decision; `hash` links it to the event before."""

    seq = models.BigIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(editable=False)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    token_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    agent_slug = models.CharField(max_length=64, blank=True)
    package_version = models.IntegerField(null=True, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    data = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        # Each index costs every append (the gate appends on every check): only
        # the filters of the audit page and exports, each walked in seq order.
        indexes = [
            models.Index(fields=["agent_slug", "seq"]),
            models.Index(fields=["action", "seq"]),
            models.Index(fields=["created_at", "seq"]),
            models.Index(fields=["actor_id", "seq"]),
            # The actor filter matches the label or the id: PostgreSQL combines the two
            # indexes (a bitmap OR) only when both columns have one.
            models.Index(fields=["actor_label", "seq"]),
        ]

    def __str__(self):
        return f"#{self.seq} {self.action} by {self.actor_label or self.actor_type}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Audit events are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are append-only and cannot be deleted.")


class Checkpoint(models.Model):
    """A signed statement of the chain head at a point in time."""

    seq = models.BigIntegerField(db_index=True)
    head_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    signature = models.TextField()
    public_key_fingerprint = models.CharField(max_length=64)

    class Meta:
        ordering = ["seq"]

    def __str__(self):
        return f"checkpoint @{self.seq}"


# The trail: the tables whose rows are only ever added. PostgreSQL refuses their
# UPDATE and DELETE by trigger (migrations 0002, 0003), and the role web, worker and
# beat connect as may only read and add to them (audit.runtime_role).
TRAIL_MODELS = (AuditEvent, Checkpoint)


class VerificationState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Chain intact"
    FAILED = "failed", "Chain broken"
    ERROR = "error", "Could not finish"


FINISHED_STATES = (VerificationState.PASSED, VerificationState.FAILED, VerificationState.ERROR)


class VerificationRun(models.Model):
    """One walk of the chain someone asked for on the audit page, with its progress and result."""

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_label = models.CharField(max_length=200)
    state = models.CharField(
        max_length=16, choices=VerificationState.choices, default=VerificationState.QUEUED
    )
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    events_total = models.BigIntegerField(default=0)
    events_done = models.BigIntegerField(default=0)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"verification {self.pk}: {self.state}"

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    # The states by name, for templates, which cannot name the vocabulary's members.
    @property
    def queued(self) -> bool:
        return self.state == VerificationState.QUEUED

    @property
    def passed(self) -> bool:
        return self.state == VerificationState.PASSED

    @property
    def failed(self) -> bool:
        return self.state == VerificationState.FAILED

    @property
    def errored(self) -> bool:
        return self.state == VerificationState.ERROR

    @property
    def percent(self) -> int:
        """Return how much of the chain is walked, 0-100."""
        if self.finished:
            return 100
        return int(100 * self.events_done / self.events_total) if self.events_total else 0
