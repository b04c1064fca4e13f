"""The gate's decision row, read in SQL, says what the ORM says of the same data."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import Agent
from approvals.emergency import emergency_request
from approvals.gate import decision_row
from approvals.models import (
    GRANTED_EMERGENCY_STATES,
    LIVE_FINDING_STATUSES,
    ApprovalPackage,
    DriftFinding,
    EmergencyApproval,
    EmergencyState,
    FindingStatus,
    PackageState,
    Severity,
)
from approvals.retirement import agent_retire
from approvals.services import agent_suspend
from audit.actors import Actor
from tests.approvals.emergency import emergency_grant
from tests.factories import AgentFactory, DriftFindingFactory, manifest_for

pytestmark = pytest.mark.django_db


def row_by_orm(slug: str) -> dict | None:
    agent = Agent.objects.filter(slug=slug).first()
    if agent is None:
        return None
    package = (
        ApprovalPackage.objects.filter(agent=agent, approved_at__isnull=False)
        .order_by("-version")
        .first()
    )
    critical = DriftFinding.objects.filter(
        agent=agent, severity=Severity.CRITICAL, status__in=LIVE_FINDING_STATUSES
    )
    emergency = (
        EmergencyApproval.objects.filter(
            agent=agent, granted_at__isnull=False, state__in=GRANTED_EMERGENCY_STATES
        )
        .select_related("package")
        .order_by("-granted_at")
        .first()
    )
    shipped = emergency and emergency.package
    return {
        "retired_at": agent.retired_at,
        "suspended_at": agent.suspended_at,
        "critical_drift": critical.exists(),
        "package_pk": package and package.pk,
        "version": package and package.version,
        "state": package and package.state,
        "digest": package and package.digest,
        "expires_at": package and package.expires_at,
        "source_digest": package and package.source_digest,
        "emergency_state": emergency and emergency.state,
        "emergency_ends_at": emergency and emergency.ends_at,
        "emergency_package_pk": shipped and shipped.pk,
        "emergency_version": shipped and shipped.version,
        "emergency_digest": shipped and shipped.digest,
        "emergency_source_digest": shipped and shipped.source_digest,
    }


def same_as_orm(slug: str) -> dict | None:
    row = decision_row(slug)
    assert row == row_by_orm(slug)
    return row


def test_an_unknown_agent_has_no_row(db):
    assert same_as_orm("nobody") is None


def test_an_agent_never_approved_has_no_version(workflow, agent):
    assert same_as_orm(agent.slug)["package_pk"] is None
    workflow.submit(agent)
    assert same_as_orm(agent.slug)["package_pk"] is None


def test_the_last_approved_version_is_read_not_a_later_one_in_review(workflow, agent):
    first = workflow.approve(agent)
    assert same_as_orm(agent.slug)["package_pk"] == first.pk
    second = workflow.approve(agent, manifest_for(agent, rollback={"plan": "Second."}))
    assert same_as_orm(agent.slug)["package_pk"] == second.pk
    workflow.submit(agent, manifest_for(agent, rollback={"plan": "Third."}))
    row = same_as_orm(agent.slug)
    assert (row["package_pk"], row["state"]) == (second.pk, PackageState.APPROVED)


def test_an_expired_approval_is_still_the_last_approved_version(workflow, agent):
    package = workflow.approve(agent)
    ApprovalPackage.objects.filter(pk=package.pk).update(
        state=PackageState.EXPIRED, expires_at=timezone.now()
    )
    assert same_as_orm(agent.slug)["state"] == PackageState.EXPIRED


def test_suspension_and_live_critical_findings_are_read(workflow, agent, staff):
    package = workflow.approve(agent)
    other = AgentFactory(slug="other-bot")
    DriftFindingFactory(agent=other, package=None)
    DriftFindingFactory(agent=agent, package=package, severity=Severity.HIGH, identifier="a")
    DriftFindingFactory(agent=agent, package=package, status=FindingStatus.RESOLVED, identifier="b")
    assert same_as_orm(agent.slug)["critical_drift"] is False
    DriftFindingFactory(
        agent=agent, package=package, status=FindingStatus.ACKNOWLEDGED, identifier="c"
    )
    assert same_as_orm(agent.slug)["critical_drift"] is True
    assert same_as_orm(other.slug)["critical_drift"] is True
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 7.")
    assert same_as_orm(agent.slug)["suspended_at"] is not None


def test_the_latest_granted_emergency_and_its_package_are_read(workflow, agent):
    workflow.approve(agent)
    second = workflow.submit(agent, manifest_for(agent, rollback={"plan": "Second."}))
    assert same_as_orm(agent.slug)["emergency_package_pk"] is None
    emergency = emergency_grant(workflow, second)
    row = same_as_orm(agent.slug)
    assert (row["emergency_package_pk"], row["emergency_state"]) == (
        second.pk,
        EmergencyState.ACTIVE,
    )
    EmergencyApproval.objects.filter(pk=emergency.pk).update(
        state=EmergencyState.EXPIRED, ends_at=timezone.now() - timedelta(hours=1)
    )
    assert same_as_orm(agent.slug)["emergency_state"] == EmergencyState.EXPIRED
    # A concluded emergency is no longer read: the package's own approval answers.
    EmergencyApproval.objects.filter(pk=emergency.pk).update(state=EmergencyState.CONCLUDED)
    assert same_as_orm(agent.slug)["emergency_package_pk"] is None


def test_an_emergency_asked_for_but_not_granted_is_not_read(workflow, agent):
    package = workflow.submit(agent)
    emergency_request(actor=Actor.for_user(workflow.owner), package=package, reason="Urgent.")
    assert same_as_orm(agent.slug)["emergency_package_pk"] is None


def test_retirement_is_read(workflow, agent, staff):
    workflow.approve(agent)
    assert same_as_orm(agent.slug)["retired_at"] is None
    agent_retire(actor=Actor.for_user(staff), agent=agent, reason="Replaced by v2 bot.")
    assert same_as_orm(agent.slug)["retired_at"] is not None
