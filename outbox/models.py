"""Notifications waiting to leave the system, their webhook deliveries, and sent reminders.

A notification row is written in the transaction of the change it reports, so
it exists exactly when the change does; a worker sends it after the commit,
and a periodic sweep picks up any whose queue message was lost. Its webhooks
and its mail are two steps, each with its own record: a mail server that is
down never holds back a webhook.
"""

from django.db import models

from config.identifiers import AGENT_SLUG_MAX_LENGTH


class Notification(models.Model):
    event = models.CharField(max_length=64, db_index=True)
    agent_slug = models.CharField(max_length=AGENT_SLUG_MAX_LENGTH, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    # When its recipients were fixed and its webhook deliveries created.
    dispatched_at = models.DateTimeField(null=True, blank=True)
    email_recipients = models.JSONField(default=list, blank=True)
    # The mail: sent at `mailed_at`; tried `mail_attempts` times (counted before each
    # send, so a worker that dies after sending still counts it); next due at
    # `mail_next_attempt_at`, null when nothing is left to try (sent, nobody to mail,
    # or every attempt failed: then `mail_error` says why).
    mailed_at = models.DateTimeField(null=True, blank=True)
    mail_attempts = models.PositiveSmallIntegerField(default=0)
    mail_next_attempt_at = models.DateTimeField(null=True, blank=True)
    mail_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(dispatched_at__isnull=True),
                name="notification_undispatched",
            ),
            models.Index(
                fields=["mail_next_attempt_at"],
                condition=models.Q(mail_next_attempt_at__isnull=False),
                name="notification_mail_due",
            ),
        ]

    def __str__(self):
        return f"{self.event} {self.agent_slug}".strip()


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class DeliveryPurpose(models.TextChoices):
    SUBSCRIBER = "subscriber", "Subscriber webhook"
    KILL_SWITCH = "kill_switch", "Kill-switch webhook"


class WebhookDelivery(models.Model):
    """One signed POST of a notification to one URL, with every attempt's outcome."""

    notification = models.ForeignKey(
        Notification, on_delete=models.PROTECT, related_name="deliveries"
    )
    url = models.URLField(max_length=2048)
    purpose = models.CharField(
        max_length=16, choices=DeliveryPurpose.choices, default=DeliveryPurpose.SUBSCRIBER
    )
    body = models.TextField(help_text="The exact bytes signed and sent.")
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(fields=["notification", "url"], name="one_delivery_per_url")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status=DeliveryStatus.PENDING),
                name="delivery_pending_due",
            )
        ]

    def __str__(self):
        return f"{self.notification} -> {self.url} ({self.status})"


class Reminder(models.Model):
    """A reminder or escalation already sent, keyed so that a job never sends it twice."""

    key = models.CharField(max_length=200, unique=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at"]

    def __str__(self):
        return self.key
