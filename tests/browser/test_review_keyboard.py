"""The review in a real Chromium: keyboard alone, Enter on the checklist (beside a decision a
suspension set aside), the confirmation without JavaScript, and what the owner sees after
changes are requested."""

import copy

import pytest
from playwright.sync_api import expect

from approvals.services import agent_suspend
from audit.actors import Actor
from signoffs.models import Decision, Dimension, SignOffState, Verdict
from tests.browser.test_progressive import open_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Tab presses allowed to reach an element; the review page has fewer stops than this.
MAX_TABS = 120


def focused(page) -> str:
    """Describe the focused element: tag, id, name, value and text."""
    return page.evaluate(
        """() => { const e = document.activeElement;
        return [e.tagName, e.id, e.name || '', e.value || '', (e.textContent || '').trim()]
            .join('|'); }"""
    )


def tab_to(page, selector: str) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(MAX_TABS):
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    pytest.fail(f"Tab never reached {selector}; the focus is on {focused(page)}")


def test_the_whole_review_works_with_the_keyboard_alone(
    live_server, sign_in, workflow, agent, reviewers, shots
):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["scope"]["tools"][0]["access"] = "admin"
    package = workflow.submit(agent, doc)
    # Wider access re-opens PAM (whose checklist covers it); IAM's sign-off carries over.
    page = sign_in("pam2")
    # From the dashboard to the package: Tab to the queue's link, Enter.
    tab_to(page, f"#queue a[href*='/v{package.version}/']")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("entries-changed")).to_contain_text("Read → now: Admin")
    shots(page, "20-review-changes-first")
    # The link at the top jumps past the evidence to the decision.
    tab_to(page, "[data-testid=go-decide-pam]")
    page.keyboard.press("Enter")
    boxes = page.locator("#decide-pam input[type=checkbox]")
    for index in range(boxes.count()):
        tab_to(page, f"#decide-pam li:nth-child({index + 1}) input[type=checkbox]")
        page.keyboard.press("Space")
    assert all(boxes.nth(i).is_checked() for i in range(boxes.count()))
    # Approve is the last button, after Request changes and Reject.
    tab_to(page, "#decide-pam button[value=request_changes]")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.value") == "approve"
    page.keyboard.press("Enter")
    confirm = page.get_by_test_id("confirm-pam")
    expect(confirm).to_be_focused()
    expect(confirm).to_contain_text(
        f"Approve the PAM sign-off of {agent.name} ({agent.slug}) v{package.version}?"
    )
    assert not Decision.objects.filter(signoff__package=package).exists()
    shots(page, "21-review-confirm-approval")
    page.keyboard.press("Tab")
    assert "Confirm: approve PAM" in focused(page)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("signoff-pam")).to_have_text("Approved")
    decision = Decision.objects.get(signoff__package=package, signoff__dimension=Dimension.PAM)
    assert (decision.reviewer.username, decision.verdict) == ("pam2", Verdict.APPROVE)
    shots(page, "22-review-approved")


def test_enter_on_a_checklist_box_decides_nothing(live_server, sign_in, workflow, agent, shots):
    package = workflow.submit(agent)
    # The PAM approval made before a suspension stays in the history, set aside.
    workflow.decide(package, Dimension.PAM)
    agent_suspend(actor=Actor.system("tests"), agent=agent, reason="Incident 56.")
    page = sign_in("iam1")
    page.goto(f"{live_server.url}/agents/{agent.slug}/v{package.version}/")
    expect(page.get_by_test_id("set-aside-pam")).to_contain_text(
        "Set aside: the agent was suspended at"
    )
    expect(page.locator("#signoff-pam")).to_contain_text("0 of 1 approval")
    box = page.locator("#decide-iam input[type=checkbox]").first
    box.focus()
    page.keyboard.press("Space")
    page.keyboard.press("Enter")
    # The form went to the server with no verdict: nothing is recorded, the tick is kept.
    expect(page.get_by_test_id("verdict-missing")).to_contain_text("Nothing was decided")
    expect(page.locator("#decide-iam input[type=checkbox]").first).to_be_checked()
    assert not Decision.objects.filter(signoff__package=package, signoff__dimension="iam").exists()
    assert package.signoffs.get(dimension=Dimension.IAM).state == SignOffState.PENDING
    shots(page, "25-review-with-a-decision-set-aside")


def test_the_approval_is_confirmed_without_javascript(live_server, browser, workflow, agent, shots):
    package = workflow.submit(agent)
    context, page = open_page(browser, live_server, "pam1", javascript=False)
    try:
        page.goto(f"{live_server.url}/agents/{agent.slug}/v{package.version}/")
        for box in page.locator("#decide-pam input[type=checkbox]").all():
            box.check()
        page.locator("#decide-pam button[value=approve]").click()
        confirm = page.get_by_test_id("confirm-pam")
        expect(confirm).to_contain_text(f"Approve the PAM sign-off of {agent.name}")
        assert not Decision.objects.filter(signoff__package=package).exists()
        shots(page, "23-review-confirm-without-javascript", javascript=False)
        confirm.locator("button").click()
        expect(page.get_by_test_id("signoff-pam")).to_have_text("Approved")
        assert Decision.objects.get(signoff__package=package).verdict == Verdict.APPROVE
    finally:
        context.close()


def test_after_changes_requested_the_owner_sees_who_why_and_what_is_on_hold(
    live_server, sign_in, workflow, agent, reviewers, shots
):
    package = workflow.submit(agent)
    workflow.decide(package, Dimension.IAM)
    workflow.decide(
        package,
        Dimension.SECURITY,
        reviewer=reviewers[Dimension.SECURITY][1],
        verdict=Verdict.REQUEST_CHANGES,
        comment="Narrow the translation API to read-only.",
    )
    page = sign_in("owner")
    page.goto(f"{live_server.url}/agents/{agent.slug}/v{package.version}/")
    reason = page.get_by_test_id("state-reason")
    expect(reason).to_contain_text("Changes requested by security2 for Security")
    expect(reason).to_contain_text("Narrow the translation API to read-only.")
    for dimension in (Dimension.PAM, Dimension.COMPLIANCE):
        expect(page.get_by_test_id(f"signoff-{dimension}")).to_have_text("On hold")
        expect(page.get_by_test_id(f"held-{dimension}")).to_have_text(
            "On hold: changes requested by security2 (Security)."
        )
    expect(page.get_by_test_id("signoff-security")).to_have_text("Changes requested")
    expect(page.get_by_test_id("signoff-iam")).to_have_text("Approved")
    expect(page.locator("#signoff-security .decision")).to_contain_text(
        "Changes requested by security2"
    )
    expect(page.locator(".signoffs")).not_to_contain_text("Pending")
    expect(page.locator(".signoffs")).not_to_contain_text("Needed again")
    shots(page, "24-changes-requested-owner")
