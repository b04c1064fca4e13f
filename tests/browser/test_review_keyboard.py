"""Enter on the review page's checklist does not approve."""

import pytest
from playwright.sync_api import expect

from signoffs.models import Decision
from tests.browser.test_progressive import open_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records the submissions the page makes, and stops them, so the test reads them at once.
RECORD_SUBMITS = """() => {
  window.submits = [];
  document.addEventListener("submit", (event) => {
    window.submits.push(event.submitter ? event.submitter.value : "(none)");
    event.preventDefault();
  }, true);
}"""


def test_enter_on_a_checklist_box_submits_nothing(browser, live_server, workflow, agent):
    package = workflow.submit(agent)
    context, page = open_page(browser, live_server, "iam1")
    try:
        page.goto(f"{live_server.url}/agents/{agent.slug}/v{package.version}/")
        box = page.locator("#decide-iam input[type=checkbox]").first
        expect(box).to_be_visible()
        page.evaluate(RECORD_SUBMITS)
        box.focus()
        page.keyboard.press("Enter")
        # The button Enter presses is the hidden one with no verdict, not Approve.
        assert page.evaluate("() => window.submits") == [""]
        assert not Decision.objects.filter(signoff__package=package).exists()
    finally:
        context.close()
