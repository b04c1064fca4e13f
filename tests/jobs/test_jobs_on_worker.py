"""The jobs run through a real Celery worker on Redis (not eager mode)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.observations import observations_record
from approvals import tasks
from approvals.gate import gate_check
from approvals.models import ApprovalPackage, DriftFinding, PackageState
from audit.actors import Actor
from audit.models import AuditEvent
from outbox import tasks as outbox_tasks
from outbox.models import DeliveryStatus, Notification, WebhookDelivery
from signoffs.models import SignOffState
from tests.jobs.conftest import expected_signature, wait_for, webhook_json

pytestmark = pytest.mark.django_db(transaction=True)

SYSTEM = Actor.system("tests")
RECERTIFY = "approvals.tasks.recertification_open"


def test_a_due_approval_opens_its_recertification(workflow, agent, celery_worker):
    approved = workflow.approve(agent)
    ApprovalPackage.objects.filter(pk=approved.pk).update(
        expires_at=timezone.now() + timedelta(days=3)
    )
    worker = celery_worker()
    tasks.recertification_open.delay()
    recert = wait_for(
        lambda: ApprovalPackage.objects.filter(agent=agent, is_recertification=True).first(),
        message="the re-certification package",
    )
    assert recert.state == PackageState.IN_REVIEW
    assert recert.digest == approved.digest and recert.base_id == approved.pk
    assert recert.signoffs.count() == 4
    assert set(recert.signoffs.values_list("state", flat=True)) == {SignOffState.PENDING}
    opened = AuditEvent.objects.get(action="recertification.opened")
    assert opened.actor_type == "system" and opened.actor_label == "celery:recertification_open"
    due = wait_for(
        lambda: Notification.objects.filter(
            event="recertification.due", dispatched_at__isnull=False
        ).first(),
        message="the reminder to the reviewers",
    )
    assert {"iam1@example.com", "security2@example.com", "owner@example.com"} <= set(
        due.email_recipients
    )

    # A second run, and two at once as from two beats, change nothing.
    for _ in range(3):
        tasks.recertification_open.delay()
    wait_for(lambda: worker.finished(RECERTIFY) == 4, message="the repeated runs")
    assert ApprovalPackage.objects.filter(agent=agent, is_recertification=True).count() == 1
    assert AuditEvent.objects.filter(action="recertification.opened").count() == 1


def test_an_overdue_approval_expires_and_the_gate_denies(workflow, agent, celery_worker):
    approved = workflow.approve(agent)
    ApprovalPackage.objects.filter(pk=approved.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    celery_worker()
    tasks.approvals_expire.delay()
    wait_for(
        lambda: ApprovalPackage.objects.get(pk=approved.pk).state == PackageState.EXPIRED,
        message="the approval to expire",
    )
    expired = AuditEvent.objects.get(action="package.expired")
    assert expired.actor_label == "celery:approvals_expire"
    result = gate_check(actor=SYSTEM, agent_slug=agent.slug, digest=approved.digest)
    assert result.decision == "deny"
    assert [reason["code"] for reason in result.reasons] == ["approval_expired"]
    agent.refresh_from_db()
    assert agent.status == "expired"


def test_uses_outside_the_scope_raise_one_finding_each(workflow, agent, celery_worker):
    workflow.approve(agent)
    uses = [
        {"kind": "tool", "identifier": "shell", "access": "execute"},
        {"kind": "dataset", "identifier": "crm.customers", "access": "write"},
        {"kind": "endpoint", "identifier": "https://internal.example.com/x", "access": "read"},
        {"kind": "action", "identifier": "account.delete", "access": "execute"},
        {"kind": "external_api", "identifier": "https://api.other.example.com", "access": "read"},
        {"kind": "prompt", "identifier": "sha256:" + "0" * 64},
        {"kind": "tool", "identifier": "kb-search", "access": "read"},
    ]
    worker = celery_worker(SUSPEND_ON_CRITICAL_DRIFT="0")
    for round_ in range(5):
        observations_record(actor=SYSTEM, agent=agent, items=uses * 2)
        tasks.drift_evaluate.delay()
        tasks.drift_evaluate.delay()
        wait_for(
            lambda n=round_: worker.finished("approvals.tasks.drift_evaluate") == 2 * (n + 1),
            message="both drift runs",
        )
    findings = DriftFinding.objects.filter(agent=agent)
    keys = sorted((f.kind, f.identifier) for f in findings)
    assert keys == sorted((u["kind"], u["identifier"]) for u in uses[:-1])
    assert {f.count for f in findings} == {10}
    assert {f.reason for f in findings} >= {"unapproved_tool", "higher_access", "prompt_changed"}
    opened = [e for e in AuditEvent.objects.filter(action="drift.evaluated") if e.data["opened"]]
    assert len(opened) == 1 and len(opened[0].data["opened"]) == 6
    assert opened[0].actor_label == "celery:drift_evaluate"


def test_a_receiver_gets_a_correctly_signed_delivery(workflow, agent, celery_worker, receivers):
    receiver = receivers()
    celery_worker(WEBHOOK_URLS=receiver.url)
    package = workflow.submit(agent)
    wait_for(lambda: receiver.requests, message="the webhook delivery")
    request = receiver.requests[0]
    assert request["headers"]["X-Countersign-Signature"] == expected_signature(request["body"])
    body = webhook_json(request)
    assert body["event"] == "package.submitted"
    assert (body["agent"], body["package_version"]) == (agent.slug, package.version)
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).first(),
        message="the delivery record",
    )
    assert (delivery.attempts, delivery.response_code, delivery.url) == (1, 200, receiver.url)
    assert request["headers"]["X-Countersign-Delivery"] == str(delivery.pk)


def test_a_failing_receiver_is_retried_and_recorded(workflow, agent, celery_worker, receivers):
    flaky = receivers(statuses=(500, 503, 200))
    broken = receivers(statuses=(500,))
    celery_worker(
        WEBHOOK_URLS=f"{flaky.url},{broken.url}".replace("/hook", "/hook"),
        WEBHOOK_BACKOFF_SECONDS=1,
        WEBHOOK_MAX_ATTEMPTS=3,
    )
    workflow.submit(agent)
    recovered = wait_for(
        lambda: WebhookDelivery.objects.filter(url=flaky.url, status="succeeded").first(),
        message="the flaky receiver's delivery to succeed",
    )
    failed = wait_for(
        lambda: WebhookDelivery.objects.filter(url=broken.url, status="failed").first(),
        message="the broken receiver's delivery to give up",
    )
    assert (recovered.attempts, recovered.response_code) == (3, 200)
    assert (failed.attempts, failed.response_code) == (3, 500)
    assert len(flaky.requests) == 3 and len(broken.requests) == 3
    assert len({r["body"] for r in flaky.requests}) == 1
    for request in flaky.requests + broken.requests:
        assert request["headers"]["X-Countersign-Signature"] == expected_signature(request["body"])


def test_suspension_calls_the_kill_switch_webhook(workflow, owner, celery_worker, receivers):
    from approvals.services import agent_suspend
    from tests.factories import AgentFactory, manifest_for

    kill = receivers()
    agent = AgentFactory(owners=[owner])
    manifest = manifest_for(agent)
    manifest["kill_switch"]["webhook"] = kill.url
    workflow.approve(agent, manifest)
    celery_worker()
    agent_suspend(actor=SYSTEM, agent=agent, reason="Test of the kill switch.")
    wait_for(lambda: kill.requests, message="the kill-switch call")
    body = webhook_json(kill.requests[0])
    assert body["event"] == "agent.suspended" and body["kill_switch_webhook"] == kill.url
    called = wait_for(
        lambda: AuditEvent.objects.filter(action="agent.kill_switch_called").first(),
        message="the audit event of the call",
    )
    assert called.data["status"] == "succeeded" and called.data["response_code"] == 200


def test_the_sweep_sends_what_a_lost_message_left_behind(agent, celery_worker, receivers):
    receiver = receivers()
    # A notification committed while the broker was unreachable: no message was queued.
    lost = Notification.objects.create(
        event="approval.expired",
        agent_slug=agent.slug,
        payload={
            "event": "approval.expired",
            "agent": agent.slug,
            "package_version": 1,
            "data": {},
        },
    )
    Notification.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=2))
    celery_worker(WEBHOOK_URLS=receiver.url)
    outbox_tasks.notifications_sweep.delay()
    wait_for(lambda: receiver.requests, message="the swept notification's webhook")
    lost.refresh_from_db()
    assert lost.dispatched_at is not None and lost.email_recipients == ["owner@example.com"]
    assert webhook_json(receiver.requests[0])["id"] == lost.pk
