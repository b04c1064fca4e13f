"""A mail server that refuses or hangs holds back no webhook, least of all the kill switch.

A notification's webhook deliveries are created and queued before its mail is
tried; the mail is a step of its own, outside any transaction, counted before
each send and retried by the sweep a bounded number of times.
"""

import socket
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from approvals.services import agent_suspend
from audit.actors import Actor
from outbox import tasks
from outbox.models import DeliveryPurpose, DeliveryStatus, Notification, WebhookDelivery
from outbox.services import notification_mail, notifications_sweep
from tests.factories import AgentFactory, manifest_for

KILL_SWITCH_URL = "https://runtime.example.com/kill"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again: nothing listens there


def _suspend(workflow, owner) -> Notification:
    """Approve an agent with a kill-switch webhook, suspend it; return its notification."""
    agent = AgentFactory(owners=[owner])
    manifest = manifest_for(agent)
    manifest["kill_switch"]["webhook"] = KILL_SWITCH_URL
    workflow.approve(agent, manifest)
    agent_suspend(actor=Actor.system("tests"), agent=agent, reason="Incident 42.")
    return Notification.objects.get(event="agent.suspended", agent_slug=agent.slug)


@pytest.fixture
def smtp_refusing(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", _closed_port()


def _make_due(notification: Notification) -> None:
    Notification.objects.filter(pk=notification.pk).update(
        mail_next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.django_db
def test_the_kill_switch_webhook_is_queued_while_smtp_refuses_and_the_mail_follows_later(
    workflow, owner, smtp_refusing, settings
):
    notification = _suspend(workflow, owner)
    tasks.notification_dispatch.apply(args=[notification.pk]).get()

    delivery = WebhookDelivery.objects.get(
        notification=notification, purpose=DeliveryPurpose.KILL_SWITCH
    )
    assert delivery.status == DeliveryStatus.PENDING and delivery.url == KILL_SWITCH_URL
    notification.refresh_from_db()
    assert notification.dispatched_at is not None
    assert "owner@example.com" in notification.email_recipients
    assert (notification.mailed_at, notification.mail_attempts) == (None, 1)
    assert "Connection refused" in notification.mail_error
    wait = notification.mail_next_attempt_at - timezone.now()
    assert timedelta(seconds=50) < wait <= timedelta(seconds=60)
    assert notification.pk not in notifications_sweep()[0], "not due before its backoff"

    _make_due(notification)
    assert notification.pk in notifications_sweep()[0]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    tasks.notification_dispatch.apply(args=[notification.pk]).get()
    [sent] = mail.outbox
    assert sent.subject.startswith("[Countersign] Agent suspended")
    notification.refresh_from_db()
    assert notification.mailed_at is not None and notification.mail_attempts == 2
    assert (notification.mail_next_attempt_at, notification.mail_error) == (None, "")
    assert WebhookDelivery.objects.filter(notification=notification).count() == 1
    assert notification.pk not in notifications_sweep()[0]


@pytest.mark.django_db
def test_a_mail_is_tried_at_most_mail_max_attempts_times(workflow, owner, smtp_refusing, settings):
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "MAIL_MAX_ATTEMPTS": 3}
    notification = _suspend(workflow, owner)
    tasks.notification_dispatch.apply(args=[notification.pk]).get()
    for _ in range(2):
        _make_due(notification)
        assert notification_mail(notification_id=notification.pk) is False
    notification.refresh_from_db()
    assert (notification.mail_attempts, notification.mailed_at) == (3, None)
    assert notification.mail_next_attempt_at is None and notification.mail_error
    assert notification.pk not in notifications_sweep()[0]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notification_mail(notification_id=notification.pk) is None
    assert mail.outbox == []


@pytest.mark.django_db
def test_a_batch_queues_every_webhook_and_leaves_the_mails_after_a_failure_to_the_sweep(
    workflow, owner, smtp_refusing
):
    notifications = [_suspend(workflow, owner) for _ in range(3)]
    tasks.notifications_dispatch.apply(args=[[n.pk for n in notifications]]).get()
    assert WebhookDelivery.objects.filter(purpose=DeliveryPurpose.KILL_SWITCH).count() == 3
    tried = Notification.objects.filter(pk__in=[n.pk for n in notifications], mail_attempts=1)
    untried = Notification.objects.filter(pk__in=[n.pk for n in notifications], mail_attempts=0)
    assert (tried.count(), untried.count()) == (1, 2)
    swept = set(notifications_sweep()[0])
    assert set(untried.values_list("pk", flat=True)) <= swept
    assert tried.get().pk not in swept, "tried again only after its backoff"


class HungSMTP:
    """A server on 127.0.0.1 that accepts connections and never sends its greeting.

    `on_accept` runs in the server's thread as each connection arrives, before the
    client can get anything back; what it returns is kept in `seen_on_accept`.
    """

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.held: list[socket.socket] = []
        self.on_accept = lambda: None
        self.seen_on_accept: list = []
        self.accepted = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server.getsockname()[1]

    def _accept(self):
        while True:
            try:
                self.held.append(self.server.accept()[0])
            except OSError:
                return
            self.seen_on_accept.append(self.on_accept())
            self.accepted.set()

    def close(self):
        self.server.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def smtp_hanging(settings):
    hung = HungSMTP()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", hung.port
    yield hung
    hung.close()


@pytest.mark.django_db(transaction=True)
def test_a_hanging_mail_server_delays_no_webhook_and_times_out(
    workflow, owner, settings, smtp_hanging
):
    notification = _suspend(workflow, owner)
    finished = threading.Event()

    def dispatch():
        from django.db import connection

        try:
            tasks.notification_dispatch.apply(args=[notification.pk])
        finally:
            connection.close()
            finished.set()

    deliveries = WebhookDelivery.objects.filter(
        notification=notification, purpose=DeliveryPurpose.KILL_SWITCH
    )

    def queued():
        from django.db import connection

        try:
            return deliveries.exists()
        finally:
            connection.close()

    # Asked as the mail server takes the connection: whatever happens after it, the
    # webhook was queued while the mail had yet to get its first answer.
    smtp_hanging.on_accept = queued
    threading.Thread(target=dispatch, daemon=True).start()
    assert smtp_hanging.accepted.wait(60), "the mail server was never called"
    assert smtp_hanging.seen_on_accept == [True], (
        "the kill-switch webhook waited for the mail server"
    )

    # The attempt under way is committed before the send: it counts, and no other
    # worker starts the same mail while it runs.
    claimed = Notification.objects.get(pk=notification.pk)
    assert claimed.mail_attempts == 1 and claimed.mail_next_attempt_at > timezone.now()
    assert notification_mail(notification_id=notification.pk) is None

    # Generous: without its timeout the mail would wait on the server forever.
    bound = settings.EMAIL_TIMEOUT + 60
    assert finished.wait(bound), f"the mail still waited on the server {bound}s later"
    notification.refresh_from_db()
    assert notification.mailed_at is None and "timed out" in notification.mail_error
