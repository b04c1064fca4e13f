"""Emergency expiry and retirement's kill-switch call, on a real Celery worker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals import tasks
from approvals.gate import gate_check
from approvals.models import EmergencyApproval, EmergencyState
from approvals.retirement import agent_retire
from audit.actors import Actor
from audit.models import AuditEvent
from outbox.models import Notification
from tests.approvals.emergency import emergency_grant
from tests.factories import AgentFactory, manifest_for
from tests.jobs.conftest import wait_for, webhook_json

pytestmark = pytest.mark.django_db(transaction=True)

SYSTEM = Actor.system("tests")
EXPIRE = "approvals.tasks.emergencies_expire"


def test_an_emergency_past_its_box_expires_and_owners_and_reviewers_are_told(
    workflow, agent, celery_worker
):
    workflow.approve(agent)
    second = workflow.submit(agent, manifest_for(agent, rollback={"plan": "Second."}))
    emergency = emergency_grant(workflow, second)
    EmergencyApproval.objects.filter(pk=emergency.pk).update(
        ends_at=timezone.now() - timedelta(minutes=1)
    )
    worker = celery_worker()
    tasks.emergencies_expire.delay()
    wait_for(
        lambda: EmergencyApproval.objects.get(pk=emergency.pk).state == EmergencyState.EXPIRED,
        message="the emergency to expire",
    )
    expired = AuditEvent.objects.get(action="emergency.expired")
    assert expired.actor_label == "celery:emergencies_expire"
    told = wait_for(
        lambda: Notification.objects.filter(
            event="emergency.expired", dispatched_at__isnull=False
        ).first(),
        message="the notification to owners and reviewers",
    )
    assert {"owner@example.com", "security1@example.com", "pam2@example.com"} <= set(
        told.email_recipients
    )
    result = gate_check(actor=SYSTEM, agent_slug=agent.slug, digest=second.digest)
    assert [r["code"] for r in result.reasons] == ["emergency_expired"]
    # Repeated runs, and two at once, change nothing.
    for _ in range(2):
        tasks.emergencies_expire.delay()
    wait_for(lambda: worker.finished(EXPIRE) == 3, message="the repeated runs")
    assert AuditEvent.objects.filter(action="emergency.expired").count() == 1
    assert Notification.objects.filter(event="emergency.expired").count() == 1


def test_retirement_calls_the_kill_switch_webhook(workflow, owner, celery_worker, receivers):
    kill = receivers()
    agent = AgentFactory(owners=[owner])
    manifest = manifest_for(agent)
    manifest["kill_switch"]["webhook"] = kill.url
    workflow.approve(agent, manifest)
    celery_worker()
    agent_retire(actor=Actor.for_user(owner), agent=agent, reason="Replaced by a new agent.")
    wait_for(lambda: kill.requests, message="the kill-switch call")
    body = webhook_json(kill.requests[0])
    assert body["event"] == "agent.retired" and body["kill_switch_webhook"] == kill.url
    assert body["data"] == {"reason": "Replaced by a new agent."}
    called = wait_for(
        lambda: AuditEvent.objects.filter(action="agent.kill_switch_called").first(),
        message="the audit event of the call",
    )
    assert called.data["status"] == "succeeded"
