"""A reviewer sets an absence in a real Chromium; the delegate sees and decides on their behalf."""

import pytest
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from signoffs.models import Decision

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_absent_reviewers_delegate_decides_on_their_behalf(
    live_server, sign_in, workflow, agent, reviewers, shots
):
    pam1, pam2 = reviewers["pam"]
    assign_perm("agents.review_pam", pam1, agent)
    package = workflow.submit(agent)

    page = sign_in("pam1")
    page.get_by_role("link", name="My absence").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My absence")
    shots(page, "delegation-absence-form")
    page.get_by_label("Delegate").select_option(label="pam2")
    page.get_by_role("button", name="Set absence").click()
    expect(page.locator(".messages")).to_contain_text("Absence set: pam2 decides in your place.")
    expect(page.get_by_test_id("absence-row")).to_contain_text("pam2")
    shots(page, "delegation-absence-set")

    page = sign_in("pam2")
    note = page.locator("#queue tr", has_text="PAM").get_by_test_id("queue-note")
    expect(note).to_have_text("on behalf of pam1")
    shots(page, "delegation-queue")
    page.locator("#queue tr", has_text="PAM").get_by_role("link").click()
    heading = page.locator("#decide-pam-title")
    expect(heading).to_contain_text("on behalf of pam1")
    boxes = page.locator("#decide-pam input[type=checkbox]")
    for index in range(boxes.count()):
        boxes.nth(index).check()
    page.locator("#decide-pam button[value=approve]").click()
    expect(page.get_by_test_id("confirm-pam")).to_be_visible()
    page.get_by_role("button", name="Confirm: approve PAM").click()
    expect(page.get_by_test_id("signoff-pam")).to_have_text("Approved")
    expect(page.get_by_test_id("on-behalf-pam")).to_have_text("on behalf of pam1")
    shots(page, "delegation-decided")
    decision = Decision.objects.get(signoff__package=package, signoff__dimension="pam")
    assert (decision.reviewer, decision.on_behalf_of) == (pam2, pam1)


def test_staff_reassign_a_pending_signoff_on_the_reviewers_page(
    live_server, sign_in, workflow, agent, reviewers, staff, shots
):
    package = workflow.submit(agent)
    page = sign_in("staff")
    page.goto(f"{live_server.url}/agents/{agent.slug}/reviewers/")
    shots(page, "delegation-reviewers-pending")
    page.locator("#id_reassign-dimension").select_option("security")
    page.locator("#id_reassign-user").fill("owner")
    page.locator("#id_reassign-reason").fill("Sam is away for a month.")
    page.get_by_role("button", name="Reassign").click()
    expect(page.locator(".field.has-error")).to_contain_text("owner cannot decide it")
    shots(page, "delegation-reassign-refused")
    page.locator("#id_reassign-user").fill("security2")
    page.get_by_role("button", name="Reassign").click()
    expect(page.locator(".messages")).to_contain_text("reassigned to security2")
    row = page.get_by_test_id("pending-signoff").filter(has_text="Security")
    expect(row).to_contain_text("security2")
    page.goto(f"{live_server.url}{package.get_absolute_url()}")
    expect(page.get_by_test_id("reassigned-security")).to_contain_text("security2")
    shots(page, "delegation-package-reassigned")
