"""The product owner's home in Chromium: what needs action first, counts that lead to lists."""

import pytest
from playwright.sync_api import expect

from approvals.services import package_create, package_submit, signoff_decide
from audit.actors import Actor
from signoffs.models import Verdict
from tests.factories import AgentFactory, manifest_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_owner_home_shows_what_needs_action(people, checklists, sign_in, live_server, shots):
    owner = people["owner"]
    as_owner = Actor.for_user(owner)
    drafted, sent_back, waiting = (
        AgentFactory(slug=slug, name=name, team="people-ops", owners=[owner])
        for slug, name in [
            ("leave-helper", "Leave helper"),
            ("payroll-bot", "Payroll bot"),
            ("benefits-copilot", "Benefits copilot"),
        ]
    )
    package_create(actor=as_owner, agent=drafted, manifest=manifest_for(drafted))
    package = package_submit(
        actor=as_owner,
        package=package_create(actor=as_owner, agent=sent_back, manifest=manifest_for(sent_back)),
    )
    signoff_decide(
        actor=Actor.for_user(people["paula"]),
        package=package,
        dimension="pam",
        verdict=Verdict.REQUEST_CHANGES,
        comment="Credentials live 15 minutes; make it 5 for payroll.",
        answers={},
    )
    package_submit(
        actor=as_owner,
        package=package_create(actor=as_owner, agent=waiting, manifest=manifest_for(waiting)),
    )

    page = sign_in("olivia")
    home = page.get_by_test_id("owner-home")
    expect(home).to_be_visible()
    sent = page.get_by_test_id("sent-back-payroll-bot")
    expect(sent).to_contain_text("paula (PAM reviewer) requested changes")
    expect(sent).to_contain_text("make it 5 for payroll")
    expect(page.get_by_test_id("progress-benefits-copilot-security")).to_contain_text(
        "waiting for any Security reviewer"
    )
    shots(page, "15-owner-home")

    # Each status count leads to the agents list filtered by that status.
    agents_by_status = home.get_by_role("list", name="Agents by status")
    agents_by_status.get_by_role("link", name="1 Changes requested").click()
    expect(page).to_have_url(f"{live_server.url}/agents/?status=changes_requested")
    expect(page.locator("#agent-table tbody tr")).to_have_count(1)
    expect(page.locator("#agent-table")).to_contain_text("payroll-bot")

    # A sent-back version starts the next one from itself, in the editor.
    page.goto(f"{live_server.url}/")
    sent.get_by_role("button", name="Start a new version from v1").click()
    expect(page.locator("h1")).to_contain_text("Draft v2 of Payroll bot")
    expect(page.locator("#id_tools-0-id")).to_have_value("kb-search")
