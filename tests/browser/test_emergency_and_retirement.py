"""Emergency release and retirement in a real Chromium, every page held to axe-core."""

import pytest
from playwright.sync_api import expect

from agents.models import Agent, AgentStatus
from approvals.models import EmergencyApproval, EmergencyState
from tests.conftest import Workflow
from tests.factories import AgentFactory, manifest_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "benefits-copilot"


@pytest.fixture
def second(people, checklists):
    """Olivia's agent: v1 approved by the four teams, v2 (a new rollback plan) in review."""
    owner = people["owner"]
    agent = AgentFactory(slug=SLUG, name="Benefits copilot", team="people-ops", owners=[owner])
    reviewers = {
        "iam": [people["ivan"]],
        "pam": [people["paula"]],
        "security": [people["sofia"]],
        "compliance": [people["carla"]],
    }
    workflow = Workflow(owner, reviewers)
    workflow.approve(agent)
    return workflow.submit(agent, manifest_for(agent, rollback={"plan": "Redeploy v1."}))


def test_an_owner_asks_and_security_and_pam_grant_an_emergency_release(
    sign_in, live_server, second, shots
):
    url = f"{live_server.url}/agents/{SLUG}/v{second.version}/"
    owner = sign_in("olivia")
    owner.goto(url)
    owner.get_by_test_id("ask-emergency").click()
    expect(owner.locator("h1")).to_contain_text("Ask for an emergency approval")
    shots(owner, "emergency-01-ask")
    # No reason: the error shows beside the field and nothing is asked.
    owner.click("button:has-text('Ask for the emergency approval')")
    expect(owner.locator(".field.has-error")).to_contain_text("This field is required")
    shots(owner, "emergency-02-reason-required")
    owner.fill("#id_reason", "Incident 42: the refund fix must ship tonight.")
    owner.click("button:has-text('Ask for the emergency approval')")
    expect(owner.get_by_test_id("emergency-state")).to_have_text("Requested")
    expect(owner.get_by_test_id("emergency")).to_contain_text("Incident 42")
    shots(owner, "emergency-03-requested")

    for username, dimension in (("sam", "security"), ("paula", "pam")):
        reviewer = sign_in(username)
        reviewer.goto(url)
        reviewer.get_by_test_id(f"emergency-approve-{dimension}").click()
        expect(reviewer.get_by_test_id("emergency")).to_contain_text(username)
        shots(reviewer, f"emergency-04-approved-{dimension}")
    expect(reviewer.get_by_test_id("emergency-state")).to_have_text("Active")
    expect(reviewer.get_by_test_id("emergency")).to_contain_text("emergency_approval")
    assert EmergencyApproval.objects.get(package=second).state == EmergencyState.ACTIVE

    owner.goto(f"{live_server.url}/")
    expect(owner.get_by_test_id(f"emergency-{SLUG}")).to_contain_text("Ships until")
    shots(owner, "emergency-05-dashboard")


def test_an_owner_retires_an_agent(sign_in, live_server, second, shots):
    owner = sign_in("olivia")
    owner.goto(f"{live_server.url}/agents/{SLUG}/")
    owner.click("a:has-text('Retire')")
    expect(owner.locator("h1")).to_contain_text("Retire Benefits copilot")
    shots(owner, "retire-01-reason")
    owner.fill("#id_reason", "Replaced by the benefits assistant.")
    owner.click("button:has-text('Continue')")
    expect(owner.locator("h2")).to_contain_text("Confirm the retirement")
    shots(owner, "retire-02-confirm")
    owner.click(f"button:has-text('Retire {SLUG} now')")
    expect(owner.get_by_test_id("retired")).to_contain_text("Replaced by the benefits assistant")
    expect(owner.get_by_test_id("agent-status")).to_have_text("Retired")
    shots(owner, "retire-03-retired")
    assert Agent.objects.get(slug=SLUG).status == AgentStatus.RETIRED
