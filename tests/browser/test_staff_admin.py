"""Staff change a user's groups and an agent's reviewers with the keyboard alone."""

import pytest
from playwright.sync_api import expect

from audit.models import AuditEvent
from tests.factories import AgentFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def tab_to(page, matches: str, limit: int = 60) -> None:
    """Press Tab until the focused element satisfies the JavaScript predicate `matches`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(el => {matches})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached an element where {matches}")


def test_staff_administer_membership_and_reviewers_by_keyboard(people, sign_in, live_server, shots):
    UserFactory(username="root", is_staff=True)
    agent = AgentFactory(slug="people-bot", team="people-ops", owners=[people["owner"]])
    page = sign_in("root")

    # The users page: reach paula's "Change" link from the top of the page.
    page.keyboard.press("Tab")  # the skip link
    tab_to(page, "el.textContent.trim() === 'Users'")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Users", exact=True)).to_be_visible()
    shots(page, "staff-users")
    tab_to(page, "el.getAttribute('aria-label') === 'Change the groups and teams of paula'")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("paula")
    shots(page, "staff-user-edit")

    # Add paula to the IAM group with the space bar, then save with Enter.
    tab_to(
        page, "el.type === 'checkbox' && el.parentElement.textContent.trim() === 'IAM reviewers'"
    )
    page.keyboard.press("Space")
    tab_to(page, "el.textContent.trim() === 'Save membership'")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("paula: membership changed.")
    expect(page.locator("tr", has_text="paula")).to_contain_text("IAM reviewers")
    event = AuditEvent.objects.filter(action="user.groups_changed").latest("seq")
    assert (event.actor_label, event.data["added"], event.data["source"]) == (
        "root",
        ["iam"],
        "page",
    )

    # The agent's reviewers: a wrong assignment is refused beside the username field.
    page.goto(f"{live_server.url}/agents/{agent.slug}/")
    tab_to(page, "el.textContent.trim() === 'Manage reviewers'")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reviewers of")
    tab_to(page, "el.id === 'id_permission'")
    page.keyboard.press("ArrowDown")  # review_pam
    tab_to(page, "el.id === 'id_user'")
    page.keyboard.type("ivan")
    page.keyboard.press("Enter")
    error = page.locator(".field.has-error")
    expect(error).to_contain_text("ivan is not one of the PAM reviewers")
    shots(page, "staff-reviewers-refused")

    # paula is in PAM: assign her, then revoke with the keyboard.
    page.locator("#id_user").fill("")
    page.locator("#id_user").focus()
    page.keyboard.type("paula")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("paula assigned")
    decides_pam = "May decide the PAM sign-off of this agent"
    expect(page.get_by_role("row", name=decides_pam)).to_contain_text("paula")
    shots(page, "staff-reviewers")
    page.keyboard.press("Tab")  # from the top of the new page
    tab_to(page, f"el.getAttribute('aria-label') === 'Revoke from paula: {decides_pam}'")
    page.keyboard.press("Enter")
    expect(page.locator(".messages")).to_contain_text("paula unassigned")
    actions = list(
        AuditEvent.objects.filter(agent_slug=agent.slug, action__startswith="agent.reviewer_")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["agent.reviewer_assigned", "agent.reviewer_unassigned"]
