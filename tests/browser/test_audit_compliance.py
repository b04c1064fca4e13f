"""Compliance in a real Chromium: a bad filter, exports that follow the filters without
JavaScript, and verifying the chain on a real Celery worker."""

import json

import pytest
from playwright.sync_api import expect

from audit.models import AuditEvent, VerificationRun, VerificationState
from tests.browser.test_progressive import open_page
from tests.jobs.conftest import celery_worker  # noqa: F401  (a real worker for the job)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def trail(workflow, agent):
    """An approved package of support-assistant: a few dozen audit events."""
    return workflow.approve(agent)


def test_a_bad_time_filter_is_named_and_ignored_on_the_page_and_its_exports(
    trail, sign_in, live_server, shots
):
    page = sign_in("compliance1")
    page.goto(f"{live_server.url}/audit/")
    unfiltered = page.locator("table.audit-events tbody tr").count()
    assert unfiltered == AuditEvent.objects.count() > 10
    page.goto(f"{live_server.url}/audit/?since=notadate&action=signoff.decided")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("A filter is invalid and was ignored")
    expect(alert).to_contain_text("From (UTC): Enter a valid date/time.")
    expect(page.locator(".field.has-error")).to_contain_text("Enter a valid date/time.")
    # The events shown are those of the good filter alone, as are the exports.
    rows = page.locator("table.audit-events tbody tr")
    expect(rows).to_have_count(AuditEvent.objects.filter(action="signoff.decided").count())
    expect(rows.first).to_contain_text("approved the")
    expect(page.get_by_role("link", name="Export CSV")).to_have_attribute(
        "href", "/audit/export.csv?action=signoff.decided"
    )
    shots(page, "audit-bad-filter")
    answer = page.request.get(f"{live_server.url}/audit/export.csv?since=notadate")
    assert answer.status == 400
    assert answer.headers["content-type"].startswith("application/json")
    error = json.loads(answer.text())["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == ["since"]


def test_an_events_number_reads_on_one_line(trail, sign_in, live_server):
    """The # column is as wide as its longest number: 83 is never 8 above 3, even where the
    sentences beside it need the room (a window narrower than the table's widest rows)."""
    page = sign_in("compliance1")
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(f"{live_server.url}/audit/")
    numbers = page.locator("table.audit-events tbody td.num")
    assert AuditEvent.objects.latest("seq").seq >= 10
    lines = numbers.evaluate_all(
        """cells => cells.map(cell => {
            const range = document.createRange();
            range.selectNodeContents(cell);
            return [cell.textContent.trim(), range.getClientRects().length];
        })"""
    )
    assert lines and all(count == 1 for _, count in lines), lines


def test_without_javascript_the_export_links_carry_the_submitted_filters(
    trail, browser, live_server
):
    context, page = open_page(browser, live_server, "compliance1", javascript=False)
    try:
        page.goto(f"{live_server.url}/audit/")
        page.fill("#id_agent", "support-assistant")
        page.fill("#id_action", "signoff.decided")
        page.click("button:has-text('Filter')")
        page.wait_for_url("**/audit/?agent=support-assistant*")
        decided = AuditEvent.objects.filter(action="signoff.decided").count()
        expect(page.locator("table.audit-events tbody tr")).to_have_count(decided)
        href = page.get_by_role("link", name="Export JSON Lines").get_attribute("href")
        assert href == "/audit/export.jsonl?agent=support-assistant&action=signoff.decided"
        body = page.request.get(f"{live_server.url}{href}").text()
        exported = [json.loads(line) for line in body.splitlines() if '"seq"' in line]
        assert len(exported) == decided and {e["action"] for e in exported} == {"signoff.decided"}
    finally:
        context.close()


def test_verifying_the_chain_shows_progress_then_the_result(
    trail,
    sign_in,
    live_server,
    shots,
    celery_worker,  # noqa: F811
):
    worker = celery_worker()
    page = sign_in("compliance1")
    page.goto(f"{live_server.url}/audit/")
    expect(page.get_by_text("The chain has not been verified from this page yet.")).to_be_visible()
    page.get_by_role("button", name="Verify the chain").click()
    expect(page.locator("h1")).to_have_text("Chain verification")
    # The page reloads itself (a Refresh header, no JavaScript needed) until the walk ends.
    expect(page.get_by_text("The chain is intact")).to_be_visible(timeout=60_000)
    run = VerificationRun.objects.get()
    assert run.state == VerificationState.PASSED and run.events_done == run.events_total > 10
    assert worker.finished("audit.tasks.audit_verification") == 1
    expect(page.locator("dl.facts")).to_contain_text(run.result["head_hash"])
    shots(page, "audit-verification")
    page.goto(f"{live_server.url}/audit/")
    expect(page.get_by_role("link", name=f"run {run.pk}")).to_be_visible()
    expect(page.locator("table.audit-events tbody tr").first).to_contain_text(
        "The audit chain was verified: intact"
    )
