"""Expiry of approvals and superseding of reviews, each with its audit event."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import AgentStatus
from approvals.models import ApprovalPackage, PackageState
from approvals.services import package_expire
from audit.actors import Actor
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("celery:recertification")


def test_expire_marks_an_overdue_approval_once(workflow, agent, audit_since):
    package = workflow.approve(agent)
    ApprovalPackage.objects.filter(pk=package.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    since = audit_since()
    assert package_expire(actor=SYSTEM, package=package) is True
    assert package_expire(actor=SYSTEM, package=package) is False
    (event,) = since()
    assert (event.action, event.actor_type, event.actor_label) == (
        "package.expired",
        "system",
        "celery:recertification",
    )
    package.refresh_from_db()
    agent.refresh_from_db()
    assert package.state == PackageState.EXPIRED
    assert agent.status == AgentStatus.EXPIRED


def test_an_approval_not_yet_due_is_left_alone(workflow, agent, audit_since):
    package = workflow.approve(agent)
    since = audit_since()
    assert package_expire(actor=SYSTEM, package=package) is False
    assert since() == []


def test_submitting_a_newer_version_supersedes_the_pending_review(workflow, agent, audit_since):
    first = workflow.submit(agent)
    since = audit_since()
    second = workflow.submit(agent, manifest_for(agent, justification="Second try."))
    first.refresh_from_db()
    assert first.state == PackageState.SUPERSEDED
    assert second.state == PackageState.IN_REVIEW
    superseded = [e for e in since() if e.action == "package.superseded"]
    assert len(superseded) == 1
    assert superseded[0].package_version == first.version
