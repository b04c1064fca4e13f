"""Events that leave the system (mail, signed webhooks), sent only after the transaction commits.

`notify` writes a `Notification` row in the caller's transaction and queues
its dispatch on commit: a rolled-back change leaves neither. Dispatch is two
steps. The first fixes the mail's recipients and creates one `WebhookDelivery`
per URL, in one transaction; each delivery is a signed POST retried with
exponential backoff up to a bounded number of attempts. The second sends the
mail, outside any transaction, with its own bounded retries: a mail server
that refuses or hangs holds back no webhook, and no rollback after a send can
make the mail go out again unrecorded. A periodic sweep re-queues whatever a
lost queue message, a stopped worker or a failed mail left behind, so nothing
depends on the broker or the mail server being up at the moment of the change.
"""

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_prune_record, audit_record
from config.celery import job_send
from config.roles import REVIEWER_GROUPS, Group
from outbox.models import DeliveryPurpose, DeliveryStatus, Notification, WebhookDelivery

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Countersign-Signature"
# The jobs of outbox/tasks.py, by name: sent by name so that the services never
# import the task modules, which import them.
DISPATCH = "outbox.tasks.notification_dispatch"
DISPATCH_BATCH = "outbox.tasks.notifications_dispatch"
DELIVER = "outbox.tasks.webhook_deliver"
MAX_BACKOFF = timedelta(hours=1)
# A notification not dispatched this long after its commit lost its queue message.
SWEEP_GRACE = timedelta(seconds=30)
# A retry countdown may fire a little before the recorded due time.
EARLY_TOLERANCE = timedelta(seconds=1)

OWNERS, REVIEWERS, SECURITY, EXPLICIT = "owners", "reviewers", "security", "explicit"
EVENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "package.submitted": ("Package submitted for review", (REVIEWERS,)),
    "decision.made": ("A reviewer decided a sign-off", (OWNERS,)),
    "package.approved": ("Package approved", (OWNERS,)),
    "package.changes_requested": ("Changes requested", (OWNERS,)),
    "package.signoffs_reopened": ("Sign-offs re-opened", (OWNERS, REVIEWERS)),
    "recertification.due": ("Re-certification due", (OWNERS, REVIEWERS)),
    "recertification.blocked": ("Re-certification cannot open", (OWNERS,)),
    "approval.expired": ("Approval expired", (OWNERS,)),
    "signoff.escalated": ("Review past its deadline", (EXPLICIT,)),
    "signoff.reminder": ("A review waits for you", (EXPLICIT,)),
    "signoff.reassigned": ("A review was reassigned to you", (EXPLICIT,)),
    "drift.found": ("Scope drift found", (OWNERS, SECURITY)),
    "agent.suspended": ("Agent suspended", (OWNERS, SECURITY)),
    "comment.mentioned": ("You were mentioned in a comment", (EXPLICIT,)),
    "comment.replied": ("A reply in your conversation", (EXPLICIT,)),
    "agent.retired": ("Agent retired", (OWNERS, SECURITY)),
    "token.expiring": ("An API token expires soon", (EXPLICIT,)),
    "emergency.requested": ("Emergency approval requested", (REVIEWERS,)),
    "emergency.granted": ("Emergency approval granted", (OWNERS, REVIEWERS)),
    "emergency.expired": ("Emergency approval expired before its review", (OWNERS, REVIEWERS)),
    "emergency.ended": ("Emergency approval ended", (OWNERS, REVIEWERS)),
}
# The events that call the agent runtime's kill-switch webhook.
KILL_SWITCH_EVENTS = ("agent.suspended", "agent.retired")


def _settings() -> dict:
    return settings.COUNTERSIGN


def page_url(obj) -> str:
    """Return the absolute address of an object's page (SITE_URL + its path), or ""."""
    path = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else ""
    return f"{_settings()['SITE_URL']}{path}" if path else ""


def _payload(event: str, objects: dict) -> dict:
    agent = objects.get("agent") or getattr(objects.get("package"), "agent", None)
    return {
        "event": event,
        "agent": agent.slug if agent is not None else "",
        "url": page_url(objects.get("package") or agent),
        "package_version": getattr(objects.get("package"), "version", None),
        "decision_id": getattr(objects.get("decision"), "pk", None),
        "kill_switch_webhook": objects.get("kill_switch_webhook"),
        "data": objects.get("data") or {},
    }


def notify(event: str, **objects) -> Notification:
    """Record the notification of an event and queue its dispatch once the transaction commits.

    `objects` may name the agent, package, decision, kill_switch_webhook and
    `data` (a JSON-compatible dict carried in the webhook body).
    """
    payload = _payload(event, objects)
    notification = Notification.objects.create(
        event=event, agent_slug=payload["agent"], payload=payload
    )
    transaction.on_commit(lambda: notifications_enqueue([notification.pk]))
    return notification


def notify_many(event: str, items: list[dict]) -> list[int]:
    """Record one notification per item ({"agent": slug, "data": {...}}) in one query."""
    if not items:
        return []
    rows = Notification.objects.bulk_create(
        Notification(
            event=event,
            agent_slug=item["agent"],
            payload={
                "event": event,
                "agent": item["agent"],
                "package_version": item.get("package_version"),
                "decision_id": None,
                "kill_switch_webhook": None,
                "data": item.get("data") or {},
            },
        )
        for item in items
    )
    ids = [row.pk for row in rows]
    transaction.on_commit(lambda: _enqueue_batch(ids))
    return ids


def _enqueue_batch(notification_ids: list[int]) -> None:
    """Hand a batch to the workers as one message; a broker outage is caught up by the sweep."""
    job_send(DISPATCH_BATCH, notification_ids)


def notifications_enqueue(notification_ids: list[int]) -> None:
    """Hand the notifications to the workers; a broker outage is caught up by the sweep."""
    for pk in notification_ids:
        job_send(DISPATCH, pk)


def deliveries_enqueue(delivery_ids: list[int]) -> None:
    """Hand the webhook deliveries to the workers; a broker outage is caught up by the sweep."""
    for pk in delivery_ids:
        job_send(DELIVER, pk)


def sign(body: bytes) -> str:
    """Return the signature header value of a webhook body: HMAC-SHA256 with the shared secret.

    While WEBHOOK_SECRET_FALLBACKS lists the secrets WEBHOOK_SECRET replaced, the
    value holds one signature per secret, the current one's first, comma-separated:
    a receiver that accepts any of them keeps working whether it holds the old secret
    or the new, so receivers switch one by one. With no fallback it is one signature.
    """
    secrets = dict.fromkeys(
        [_settings()["WEBHOOK_SECRET"], *_settings()["WEBHOOK_SECRET_FALLBACKS"]]
    )
    return ",".join(
        "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        for secret in secrets
    )


def _recipients(notification: Notification) -> list[str]:
    _, audiences = EVENTS.get(notification.event, ("", (OWNERS,)))
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    query = Q(pk__in=[])
    if OWNERS in audiences and notification.agent_slug:
        query |= Q(owned_agents__slug=notification.agent_slug)
    if REVIEWERS in audiences:
        query |= Q(groups__name__in=REVIEWER_GROUPS)
    if SECURITY in audiences:
        query |= Q(groups__name=Group.SECURITY)
    if EXPLICIT in audiences:
        # Named when the event happened: someone deactivated since gets no more mail.
        named = notification.payload.get("data", {}).get("recipients", [])
        query |= Q(email__in=named)
    return sorted(set(users.filter(query).values_list("email", flat=True).distinct()))


def _mail(notification: Notification) -> None:
    title, _ = EVENTS.get(notification.event, (notification.event, ()))
    payload = notification.payload
    subject = f"[Countersign] {title}" + (f": {payload['agent']}" if payload["agent"] else "")
    lines = [f"{title}.", ""]
    if payload["agent"]:
        lines.append(f"Agent: {payload['agent']}")
    if payload.get("package_version"):
        lines.append(f"Package version: v{payload['package_version']}")
    for key, value in sorted(payload.get("data", {}).items()):
        if key != "recipients" and value not in ("", None):
            lines += _fact(key.replace("_", " ").capitalize(), str(value))
    if payload.get("url"):
        lines += ["", f"Open the page: {payload['url']}"]
    send_mail(subject, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, notification.email_recipients)


def _fact(label: str, value: str) -> list[str]:
    """Return the mail's lines of a labelled value; a value of several lines is quoted.

    Comments and reasons are people's text: quoted line by line ("> "), no line of
    theirs can pass for one of the mail's own, such as a "Link:" before the real one.
    """
    value_lines = value.splitlines()
    if len(value_lines) <= 1:
        return [f"{label}: {value.strip()}"]
    return [f"{label}:", *(f"> {line}".rstrip() for line in value_lines)]


def _body(notification: Notification) -> str:
    payload = notification.payload
    document = {
        "id": notification.pk,
        "event": notification.event,
        "occurred_at": notification.created_at.isoformat(),
        "agent": payload["agent"],
        "package_version": payload.get("package_version"),
        "decision_id": payload.get("decision_id"),
        "kill_switch_webhook": payload.get("kill_switch_webhook"),
        "data": payload.get("data", {}),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


def notification_prepare(*, notification_id: int) -> list[int]:
    """Fix the mail's recipients and create the webhook deliveries; return those to send.

    Runs once per notification: the row is locked (a concurrent run skips it)
    and marked dispatched in the same transaction. Sends nothing: the
    deliveries go out through their own job, the mail through
    `notification_mail`.
    """
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(pk=notification_id, dispatched_at__isnull=True)
            .first()
        )
        if notification is None:
            return []
        now = timezone.now()
        targets = [(url, DeliveryPurpose.SUBSCRIBER) for url in _settings()["WEBHOOK_URLS"]]
        kill_switch = notification.payload.get("kill_switch_webhook")
        if notification.event in KILL_SWITCH_EVENTS and kill_switch:
            targets.append((kill_switch, DeliveryPurpose.KILL_SWITCH))
        body = _body(notification)
        WebhookDelivery.objects.bulk_create(
            [
                WebhookDelivery(
                    notification=notification,
                    url=url,
                    purpose=purpose,
                    body=body,
                    next_attempt_at=now,
                )
                for url, purpose in dict(targets).items()
            ],
            ignore_conflicts=True,
        )
        notification.dispatched_at = now
        notification.email_recipients = _recipients(notification)
        notification.mail_next_attempt_at = now if notification.email_recipients else None
        notification.save(
            update_fields=["dispatched_at", "email_recipients", "mail_next_attempt_at"]
        )
        pending = list(
            notification.deliveries.filter(status=DeliveryStatus.PENDING).values_list(
                "pk", flat=True
            )
        )
    return pending


def notification_mail(*, notification_id: int) -> bool | None:
    """Send the notification's mail if due: True when sent, False when it failed, else None.

    A failed mail is tried again by the sweep once its backoff has passed. The
    attempt is counted and the next one scheduled before the send, in a
    transaction of its own, and the send happens outside any transaction: a
    mail goes out at most MAIL_MAX_ATTEMPTS times, even when a worker dies
    between sending and recording, and an attempt under way is not started
    again by another worker before its backoff has passed.
    """
    now = timezone.now()
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True)
            .filter(
                pk=notification_id,
                mailed_at__isnull=True,
                mail_next_attempt_at__lte=now + EARLY_TOLERANCE,
            )
            .first()
        )
        if notification is None:
            return None
        notification.mail_attempts += 1
        notification.mail_next_attempt_at = (
            now + backoff(notification.mail_attempts, _settings()["MAIL_BACKOFF_SECONDS"])
            if notification.mail_attempts < _settings()["MAIL_MAX_ATTEMPTS"]
            else None
        )
        notification.save(update_fields=["mail_attempts", "mail_next_attempt_at"])
    try:
        _mail(notification)
    except Exception as error:
        logger.warning(
            "mail of notification %s failed (attempt %s)",
            notification.pk,
            notification.mail_attempts,
            exc_info=True,
        )
        Notification.objects.filter(pk=notification.pk).update(
            mail_error=f"{type(error).__name__}: {error}"[:500]
        )
        return False
    Notification.objects.filter(pk=notification.pk).update(
        mailed_at=timezone.now(), mail_next_attempt_at=None, mail_error=""
    )
    return True


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """POST the signed body; return the response code (None if no response) and an error."""
    if not delivery.url.startswith(("https://", "http://")):
        return None, "Only http and https URLs are called."
    body = delivery.body.encode()
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        delivery.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Countersign-Webhook/1",
            SIGNATURE_HEADER: sign(body),
            "X-Countersign-Event": delivery.notification.event,
            "X-Countersign-Delivery": str(delivery.pk),
        },
    )
    try:
        with urllib.request.urlopen(  # noqa: S310 - scheme checked above
            request, timeout=_settings()["WEBHOOK_TIMEOUT_SECONDS"]
        ) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, f"HTTP {error.code}"
    except (urllib.error.URLError, OSError, ValueError) as error:
        return None, str(getattr(error, "reason", error))[:500]


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """Return the wait after `attempts` failures: base * 2^(attempts-1), at most MAX_BACKOFF."""
    seconds = base_seconds * 2 ** max(attempts - 1, 0)
    return min(timedelta(seconds=seconds), MAX_BACKOFF)


def webhook_attempt(*, delivery_id: int) -> float | None:
    """Try one delivery if it is due; return seconds until it should be tried again, or None.

    The row stays locked during the request, so two workers never send the
    same delivery at once; a worker that dies mid-request rolls back and the
    delivery stays pending for the sweep.
    """
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("notification")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        # Not due: another copy of this task or the sweep will send it when it is.
        if delivery is None or delivery.next_attempt_at > timezone.now() + EARLY_TOLERANCE:
            return None
        code, error = _post(delivery)
        delivery.attempts += 1
        delivery.response_code = code
        delivery.last_error = error
        retry_in = None
        if code is not None and 200 <= code < 300:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.delivered_at = timezone.now()
        elif delivery.attempts >= _settings()["WEBHOOK_MAX_ATTEMPTS"]:
            delivery.status = DeliveryStatus.FAILED
        else:
            wait = backoff(delivery.attempts, _settings()["WEBHOOK_BACKOFF_SECONDS"])
            delivery.next_attempt_at = timezone.now() + wait
            retry_in = wait.total_seconds()
        delivery.save(
            update_fields=[
                "attempts",
                "response_code",
                "last_error",
                "status",
                "delivered_at",
                "next_attempt_at",
                "updated_at",
            ]
        )
        if delivery.purpose == DeliveryPurpose.KILL_SWITCH and retry_in is None:
            audit_record(
                actor=Actor.system("celery:webhook_deliver"),
                action="agent.kill_switch_called",
                target=delivery,
                agent_slug=delivery.notification.agent_slug,
                package_version=delivery.notification.payload.get("package_version"),
                data={
                    "url": delivery.url,
                    "status": delivery.status,
                    "attempts": delivery.attempts,
                    "response_code": code,
                    "error": error,
                },
            )
    return retry_in


def notifications_sweep() -> tuple[list[int], list[int]]:
    """Return the notifications undispatched or due a mail again, and the deliveries due."""
    now = timezone.now()
    notifications = list(
        Notification.objects.filter(
            Q(dispatched_at__isnull=True, created_at__lte=now - SWEEP_GRACE)
            | Q(mail_next_attempt_at__lte=now)
        ).values_list("pk", flat=True)[:1000]
    )
    deliveries = list(
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).values_list("pk", flat=True)[:1000]
    )
    return notifications, deliveries


# The event of a prune that deleted notifications.
NOTIFICATIONS_PRUNED = "notifications.pruned"
PRUNE_BATCH = 1000


@transaction.atomic
def notifications_prune(*, actor: Actor, now=None) -> dict:
    """Delete notifications past NOTIFICATION_DAYS whose work is done, with their deliveries.

    Done: dispatched, no mail left to try, no webhook delivery pending; what is
    still being sent stays whatever its age. The change each one reported is in
    the audit trail, and so is every kill-switch call; the rows are the record of
    the sending (recipients, attempts, errors), which the admin shows. A prune that
    deletes some is an audit event; one that deletes none records nothing.
    """
    now = now or timezone.now()
    days = _settings()["NOTIFICATION_DAYS"]
    older_than = now - timedelta(days=days)
    done = Notification.objects.filter(
        created_at__lt=older_than, dispatched_at__isnull=False, mail_next_attempt_at__isnull=True
    ).exclude(deliveries__status=DeliveryStatus.PENDING)
    pruned = {"notifications": 0, "webhook_deliveries": 0}
    # In batches: deleting a notification loads it (its deliveries protect it).
    while batch := list(done.values_list("pk", flat=True)[:PRUNE_BATCH]):
        deliveries, _ = WebhookDelivery.objects.filter(notification__in=batch).delete()
        notifications, _ = Notification.objects.filter(pk__in=batch).delete()
        pruned["webhook_deliveries"] += deliveries
        pruned["notifications"] += notifications
    if pruned["notifications"]:
        audit_prune_record(
            actor=actor,
            action=NOTIFICATIONS_PRUNED,
            deleted=pruned,
            older_than=older_than,
            days_kept=days,
        )
    return pruned
