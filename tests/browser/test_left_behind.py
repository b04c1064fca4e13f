"""Staff follow the dashboard's callout to what a leaver held, and reassign their review."""

import pytest
from playwright.sync_api import expect

from agents.membership import Source, user_flags_set
from approvals.delegation import signoff_reassign
from audit.actors import Actor
from tests.factories import AgentFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_reassign_a_leavers_review_from_the_dashboard(
    live_server, sign_in, workflow, agent, reviewers, staff, shots
):
    package = workflow.submit(agent)
    security1 = reviewers["security"][0]
    actor = Actor.for_user(staff)
    signoff_reassign(
        actor=actor, package=package, dimension="security", user=security1, reason="Owns SIEM"
    )
    gone = UserFactory(username="gone", groups=["product-owner"])
    AgentFactory(slug="orphan", owners=[gone])
    for person in (security1, gone):
        user_flags_set(person, actor=actor, source=Source.PAGE, is_active=False)

    page = sign_in("staff")
    callout = page.get_by_test_id("left-behind")
    expect(callout).to_contain_text("1 pending sign-off, 1 agent with no active owner")
    callout.get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Left behind")
    expect(page.get_by_test_id("left-behind-signoff")).to_contain_text("security1 (deactivated)")
    expect(page.get_by_test_id("left-behind-agent")).to_contain_text("gone (deactivated)")
    shots(page, "staff-left-behind")

    page.get_by_test_id("left-behind-signoff").get_by_role("link", name="Reassign").click()
    page.locator("#id_reassign-dimension").select_option("security")
    page.locator("#id_reassign-user").fill("security2")
    page.locator("#id_reassign-reason").fill("security1 left the company.")
    page.get_by_role("button", name="Reassign").click()
    expect(page.locator(".messages")).to_contain_text("security2")
    page.goto(f"{live_server.url}/staff/left-behind/")
    expect(page.get_by_test_id("left-behind-signoff")).to_have_count(0)
    expect(page.get_by_text("No pending sign-off waits only for people who left.")).to_be_visible()
