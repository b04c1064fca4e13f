"""An emergency approval past its time box reads as expired at once, on the package page and
the dashboard, before the emergencies job marks it: what people see agrees with the gate."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from approvals.gate import gate_check
from approvals.models import EmergencyApproval, EmergencyState
from approvals.selectors import emergency_pending
from audit.actors import Actor
from tests.approvals.emergency import emergency_grant
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db


def test_an_emergency_past_its_box_reads_as_expired_before_the_job_runs(
    client, workflow, agent, reviewers
):
    workflow.approve(agent)
    second = workflow.submit(agent, manifest_for(agent, rollback={"plan": "Second."}))
    emergency = emergency_grant(workflow, second)
    client.force_login(reviewers["compliance"][0])
    page = client.get(second.get_absolute_url()).content.decode()
    assert 'data-testid="emergency-state">Active<' in page
    dashboard = client.get(reverse("dashboard"))
    assert f'data-testid="emergency-{agent.slug}"' in dashboard.content.decode()
    assert [s.emergency for s in dashboard.context["queue"]] == [True]

    EmergencyApproval.objects.filter(pk=emergency.pk).update(ends_at=timezone.now())
    assert EmergencyApproval.objects.get(pk=emergency.pk).state == EmergencyState.ACTIVE
    answer = gate_check(
        actor=Actor.system("tests"), agent_slug=agent.slug, manifest=second.manifest
    )
    assert answer.decision == "deny"

    page = client.get(second.get_absolute_url()).content.decode()
    assert 'data-testid="emergency-state">Expired<' in page
    assert "left)" not in page and "until the time box ends" not in page
    dashboard = client.get(reverse("dashboard"))
    assert f'data-testid="emergency-{agent.slug}"' not in dashboard.content.decode()
    assert [s.emergency for s in dashboard.context["queue"]] == [False]


def test_an_emergency_inside_its_box_is_open_to_the_second(workflow, agent):
    workflow.approve(agent)
    second = workflow.submit(agent, manifest_for(agent, rollback={"plan": "Second."}))
    emergency = emergency_grant(workflow, second)
    EmergencyApproval.objects.filter(pk=emergency.pk).update(
        ends_at=timezone.now() + timedelta(minutes=1)
    )
    emergency.refresh_from_db()
    assert emergency.state_shown == EmergencyState.ACTIVE


@pytest.mark.parametrize(
    ("state", "ends_in"),
    [
        (EmergencyState.REQUESTED, timedelta(hours=1)),
        (EmergencyState.ACTIVE, timedelta(hours=1)),
        (EmergencyState.ACTIVE, timedelta(0)),
        (EmergencyState.ACTIVE, -timedelta(seconds=1)),
        (EmergencyState.EXPIRED, -timedelta(hours=1)),
        (EmergencyState.ENDED, timedelta(hours=1)),
        (EmergencyState.CONCLUDED, timedelta(hours=1)),
    ],
)
def test_emergency_pending_is_the_queryset_twin_of_state_shown(workflow, agent, state, ends_in):
    """The dashboard's open emergencies and the package page's badge agree on every one."""
    workflow.approve(agent)
    second = workflow.submit(agent, manifest_for(agent, rollback={"plan": "Second."}))
    emergency = emergency_grant(workflow, second)
    EmergencyApproval.objects.filter(pk=emergency.pk).update(
        state=state, ends_at=timezone.now() + ends_in
    )
    emergency.refresh_from_db()
    selected = EmergencyApproval.objects.filter(emergency_pending(), pk=emergency.pk).exists()
    shown_open = emergency.state_shown in (EmergencyState.REQUESTED, EmergencyState.ACTIVE)
    assert selected == shown_open


def test_the_emergency_api_answers_the_state_the_page_shows_at_the_end_instant(
    api, workflow, agent, owner
):
    """At `ends_at` itself the time box is over: the API's `state` says expired, as the page's
    badge and the gate do, before the emergencies job marks it."""
    workflow.approve(agent)
    second = workflow.submit(agent, manifest_for(agent, rollback={"plan": "Second."}))
    emergency = emergency_grant(workflow, second)
    path = f"/api/v1/agents/{agent.slug}/packages/{second.version}/emergency"
    answer = api(owner).get(path).json()
    assert (answer["state"], answer["is_open"]) == ("active", True)

    EmergencyApproval.objects.filter(pk=emergency.pk).update(ends_at=timezone.now())
    emergency.refresh_from_db()
    assert emergency.state == EmergencyState.ACTIVE  # the job has not run
    answer = api(owner).get(path).json()
    assert (
        (answer["state"], answer["is_open"])
        == (emergency.state_shown, False)
        == (
            "expired",
            False,
        )
    )
