"""A targeted re-review in a real Chromium: the reviewer of the one re-opened dimension sees
why this review, which sign-offs carried over and why, and approves the version alone."""

import copy

import pytest
from playwright.sync_api import expect

from approvals.models import PackageState

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_targeted_rereview_is_decided_by_the_dimension_it_reopens(
    live_server, sign_in, workflow, agent, shots
):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1 and hand open cases to the support desk."
    package = workflow.submit(agent, doc)
    page = sign_in("compliance2")
    page.goto(f"{live_server.url}/agents/{agent.slug}/v{package.version}/")
    expect(page.get_by_test_id("review-needed")).to_contain_text(
        "the others carry over: IAM, PAM, Security."
    )
    expect(page.get_by_test_id("review-plan")).to_have_text(
        "This version changes the rollback plan (rollback.plan) against v1."
    )
    expect(page.get_by_test_id("review-reason-compliance")).to_have_text(
        "Re-opened: CMP-5 covers the rollback plan (rollback.plan)."
    )
    expect(page.get_by_test_id("review-reason-pam")).to_contain_text("Carried over from v1")
    expect(page.get_by_test_id("required-iam")).to_have_text(
        "Carried over; not reviewed in this version."
    )
    assert page.locator("[data-testid^=go-decide-]").count() == 1
    shots(page, "60-targeted-rereview")
    for box in page.locator("#decide-compliance input[type=checkbox]").all():
        box.check()
    page.locator("#decide-compliance button[value=approve]").click()
    page.get_by_test_id("confirm-compliance").locator("button").click()
    expect(page.get_by_test_id("signoff-compliance")).to_have_text("Approved")
    expect(page.get_by_test_id("package-state")).to_have_text("Approved")
    shots(page, "61-targeted-rereview-approved")
    package.refresh_from_db()
    first.refresh_from_db()
    assert package.state == PackageState.APPROVED
    assert package.expires_at == first.expires_at
