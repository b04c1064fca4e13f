"""Pages read and work without JavaScript; htmx only makes filtering and the scope editor nicer."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, watch_csp
from tests.factories import AgentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fleet(people, checklists):
    owner = people["owner"]
    agents = [
        AgentFactory(slug=f"fleet-{n}", name=f"Fleet agent {n}", team=team, owners=[owner])
        for n, team in enumerate(["care", "care", "finance"])
    ]
    return agents


def open_page(browser, live_server, username, *, javascript=True, csp_violations=None):
    context = browser.new_context(java_script_enabled=javascript)
    if csp_violations is not None:
        watch_csp(context, csp_violations)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{live_server.url}/")
    return context, page


def test_without_javascript_filters_and_scope_rows_still_work(browser, live_server, fleet, shots):
    context, page = open_page(browser, live_server, "olivia", javascript=False)
    try:
        page.goto(f"{live_server.url}/agents/")
        page.select_option("#id_team", "finance")
        page.click("button:has-text('Filter')")
        expect(page).to_have_url(f"{live_server.url}/agents/?q=&team=finance")
        expect(page.locator("#agent-table tbody tr")).to_have_count(1)
        expect(page.locator("#agent-table")).to_contain_text("fleet-2")
        # The scope editor adds a row by posting the form back.
        page.goto(f"{live_server.url}/agents/fleet-0/packages/new/")
        page.locator("#scope-tools button[name=add_row]").click()
        expect(page.locator("#id_tools-0-id")).to_be_visible()
        page.fill("#id_tools-0-id", "search")
        page.locator("#scope-tools button[name=add_row]").click()
        expect(page.locator("#id_tools-1-id")).to_be_visible()
        expect(page.locator("#id_tools-0-id")).to_have_value("search")
        page.locator("#scope-tools button[name=remove_row]").first.click()
        expect(page.locator("#scope-tools .scope-row")).to_have_count(0)
        shots(page, "11-no-javascript-editor", javascript=False)
    finally:
        context.close()


def test_htmx_updates_the_agent_table_in_place(browser, live_server, fleet, csp_violations):
    context, page = open_page(browser, live_server, "olivia", csp_violations=csp_violations)
    try:
        page.goto(f"{live_server.url}/agents/")
        expect(page.locator("#agent-table tbody tr")).to_have_count(3)
        page.evaluate("window.__kept = true")
        page.fill("#id_q", "fleet-1")
        expect(page.locator("#agent-table tbody tr")).to_have_count(1)
        expect(page).to_have_url(f"{live_server.url}/agents/?q=fleet-1&team=")
        # The page was not reloaded: the table was swapped in place.
        assert page.evaluate("window.__kept") is True
    finally:
        context.close()


def test_enter_in_a_field_saves_the_draft(browser, live_server, fleet):
    from approvals.models import ApprovalPackage

    context, page = open_page(browser, live_server, "olivia")
    try:
        page.goto(f"{live_server.url}/agents/fleet-1/packages/new/")
        page.fill("#id_name", "Fleet agent one")
        page.press("#id_name", "Enter")
        # The draft is saved (here refused: required fields are missing), no row is added.
        expect(page.locator("#errors")).to_contain_text("Not saved")
        expect(page.locator("#id_name")).to_have_value("Fleet agent one")
        expect(page.locator("#scope-actions .scope-row")).to_have_count(0)
        assert not ApprovalPackage.objects.filter(agent__slug="fleet-1").exists()
    finally:
        context.close()
