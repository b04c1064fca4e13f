"""A product owner writes and submits a package with the keyboard alone."""

import pytest
from playwright.sync_api import expect

from agents.models import Deployment
from approvals.models import ApprovalPackage, PackageState
from tests.browser.test_story import PACKAGE_FIELDS
from tests.factories import AgentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACTIVE = """() => {
  const element = document.activeElement;
  return element ? (element.id || element.getAttribute("name") || element.textContent.trim()) : "";
}"""


# htmx marks the request's element and the swapped target until the swap has settled,
# which is when it moves the focus to the new entry's autofocus field.
SETTLED = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"


def tab_to(page, selector: str, *, limit: int = 80) -> None:
    """Press Tab until the element matching `selector` has the focus; fail if it never does."""
    target = page.locator(selector)
    seen = []
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
        seen.append(page.evaluate(ACTIVE))
    raise AssertionError(f"Tab never reached {selector}; went through {seen}")


def test_write_and_submit_a_package_with_the_keyboard(people, checklists, sign_in, live_server):
    AgentFactory(
        slug="keys-agent",
        team="people-ops",
        deployment=Deployment.INTERNAL_COPILOT,
        owners=[people["owner"]],
    )
    page = sign_in("olivia")
    page.goto(f"{live_server.url}/agents/keys-agent/packages/new/")
    page.keyboard.press("Tab")
    tab_to(page, "#id_justification")
    page.keyboard.type("Answers questions about leave from the handbook.")
    # A scope entry: the add button puts the focus into the new entry.
    tab_to(page, "#scope-tools button[name=add_row]")
    page.keyboard.press("Enter")
    expect(page.locator("#id_tools-0-id")).to_be_attached()
    page.wait_for_function(SETTLED)
    expect(page.locator("#id_tools-0-id")).to_be_focused()
    page.keyboard.type("handbook-search")
    page.keyboard.press("Tab")
    expect(page.locator("#id_tools-0-access")).to_be_focused()
    page.keyboard.press("ArrowDown")  # read -> write
    expect(page.locator("#id_tools-0-access")).to_have_value("write")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#id_tools-0-privileged")).to_be_focused()
    tab_to(page, "#id_tools-0-justification")
    page.keyboard.type("Searches the staff handbook.")
    for selector, value in PACKAGE_FIELDS.items():
        tab_to(page, selector)
        page.keyboard.type(value)
    tab_to(page, "button:has-text('Save and submit for review')")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("package-state")).to_have_text("In review")
    package = ApprovalPackage.objects.get(agent__slug="keys-agent")
    assert package.state == PackageState.IN_REVIEW
    assert package.manifest["scope"]["tools"] == [
        {
            "id": "handbook-search",
            "access": "write",
            "classification": "internal",
            "trust_boundary": "internal",
            "privileged": False,
            "constraints": {},
            "justification": "Searches the staff handbook.",
        }
    ]
    assert package.manifest["model"]["id"] == PACKAGE_FIELDS["#id_model__id"]
