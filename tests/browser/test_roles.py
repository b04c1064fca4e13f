"""Every role's pages on `make run`'s demo data, on SQLite and on PostgreSQL.

Each role signs in as the demo user the README names and goes through the pages
its user guide (docs/guide-*.md) shows; every page is held to 0 critical and 0
serious axe-core findings and screenshot (`make screenshots` keeps the SQLite
run's pictures in docs/images/). The modules run in file order on one site per
database: read-only tours first, then the story that changes the data.
"""

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import accessibility_problems
from tests.browser.test_story import SLUG, register_agent, sign_off, write_package

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REVIEWERS = {"iam": "iam1", "pam": "pam1", "security": "security1", "compliance": "compliance1"}


def prefixed(shots, role: str):
    """Name the shots a shared story step takes after the role taking them."""
    return lambda page, name, **_: shots(page, f"{role}-{name}")


def test_make_run_says_where_to_go_and_who_to_sign_in_as(demo_site):
    output = demo_site.output
    assert f"Countersign is ready at {demo_site.url}/" in output
    for username in ["owner", "iam1", "pam1", "security1", "compliance1", "auditor", "admin"]:
        assert f"\n  {username} " in output
    assert "password: countersign-demo" in output
    # The setup's, the worker's and the server's chatter go to their logs.
    for noise in ["Applying ", "celery@", "Starting development server", "Traceback"]:
        assert noise not in output
    assert len(output.splitlines()) < 30
    for log in ["setup.log", "celery.log", "web.log"]:
        assert (demo_site.var_dir / "log" / log).exists()


def test_signed_out_the_sign_in_page_and_the_apps_own_404(demo_sign_in, demo_site, guide_shots):
    page = demo_sign_in(None)
    expect(page.locator("h1")).to_contain_text("Sign in")
    guide_shots(page, "signin")
    favicon = page.locator("link[rel=icon]").get_attribute("href")
    answer = page.request.get(f"{demo_site.url}{favicon}")
    assert answer.ok and answer.headers["content-type"].startswith("image/svg+xml")
    response = page.goto(f"{demo_site.url}/no-such-page/")
    assert response.status == 404
    expect(page.get_by_test_id("error-page")).to_contain_text("Page not found")
    # make run serves with DEBUG off: no technical page listing the URL patterns.
    assert "URLconf" not in page.content()
    guide_shots(page, "error-404")


def test_product_owner_pages(demo_sign_in, demo_site, guide_shots):
    owner = demo_sign_in("owner")
    guide_shots(owner, "owner-dashboard")
    owner.goto(f"{demo_site.url}/agents/")
    expect(owner.locator("h1")).to_contain_text("Agents")
    guide_shots(owner, "owner-agents")
    # The dashboard's state counts open the packages list with their filter applied.
    owner.goto(f"{demo_site.url}/")
    owner.get_by_role("link", name="In review packages", exact=True).click()
    owner.wait_for_url(f"{demo_site.url}/packages/?state=in_review")
    expect(owner.locator("#id_state")).to_have_values(["in_review"])
    expect(owner.locator("#package-table caption")).to_contain_text("package")
    guide_shots(owner, "owner-packages")
    # The editor offers the manifest file first, the form after it.
    owner.goto(f"{demo_site.url}/agents/support-assistant/packages/new/")
    expect(owner.get_by_role("heading", name="Start from a manifest file")).to_be_visible()
    guide_shots(owner, "owner-editor")
    owner.goto(f"{demo_site.url}/agents/claims-intake/v1/")
    expect(owner.get_by_test_id("package-state")).to_have_text("Changes requested")
    guide_shots(owner, "owner-changes-requested")
    owner.goto(f"{demo_site.url}/agents/support-assistant/")
    expect(owner.get_by_test_id("agent-status")).to_be_visible()
    guide_shots(owner, "owner-agent")
    # An owner of agents reads their audit trail (on SQLite as on PostgreSQL).
    owner.goto(f"{demo_site.url}/audit/")
    expect(owner.locator("#audit-events")).to_contain_text("support-assistant")
    guide_shots(owner, "owner-audit-log")
    # Another team's agent, or none: the app's 404 in the site's layout.
    response = owner.goto(f"{demo_site.url}/agents/no-such-agent/")
    assert response.status == 404
    expect(owner.get_by_test_id("error-page")).to_contain_text("Page not found")
    expect(owner.get_by_role("navigation", name="Main")).to_be_visible()
    guide_shots(owner, "error-404-signed-in")
    # A page of another role: the app's refusal, in the site's layout, saying why.
    response = owner.goto(f"{demo_site.url}/staff/users/")
    assert response.status == 403
    expect(owner.get_by_role("alert")).to_contain_text("staff")
    expect(owner.get_by_role("navigation", name="Main")).to_be_visible()
    assert not accessibility_problems(owner)


def test_reviewer_pages(demo_sign_in, demo_site, guide_shots):
    """The review page leads with what changed; approving asks to confirm and records nothing."""
    iam = demo_sign_in("iam1")
    iam.goto(f"{demo_site.url}/agents/support-assistant/v2/")
    expect(iam.locator("#changes-title")).to_have_text("What changed against approved v1")
    guide_shots(iam, "reviewer-changes")
    form = iam.locator("#decide-iam")
    for box in form.locator("input[type=checkbox]").all():
        box.check()
    form.locator("button", has_text="Approve IAM").click()
    confirm = iam.get_by_test_id("confirm-iam")
    expect(confirm).to_be_focused()
    expect(iam.get_by_test_id("signoff-iam")).to_have_text("Pending")
    confirm.scroll_into_view_if_needed()
    guide_shots(iam, "reviewer-confirm")
    # The packages waiting for IAM, as a list.
    iam.goto(f"{demo_site.url}/packages/?pending=iam")
    expect(iam.locator("#package-table")).to_contain_text("Customer support assistant")
    guide_shots(iam, "reviewer-packages")


def test_compliance_officer_pages(demo_sign_in, demo_site, guide_shots):
    auditor = demo_sign_in("auditor")
    guide_shots(auditor, "compliance-dashboard")
    auditor.goto(f"{demo_site.url}/audit/")
    expect(auditor.locator("h2#signing-key")).to_be_visible()
    guide_shots(auditor, "compliance-audit-log")
    auditor.goto(f"{demo_site.url}/audit/?agent=travel-booking")
    expect(auditor.locator("#audit-events")).to_contain_text("agent.suspended")
    guide_shots(auditor, "compliance-audit-filtered")
    with auditor.expect_download() as download:
        auditor.locator("#audit-exports a", has_text="CSV").first.click()
    csv_text = open(download.value.path(), encoding="utf-8-sig").read()
    assert "travel-booking" in csv_text and "agent.suspended" in csv_text
    # Verify the chain: the run's page follows the walk to its result.
    auditor.goto(f"{demo_site.url}/audit/")
    auditor.get_by_role("button", name="Verify the chain").click()
    expect(auditor.locator("h1")).to_have_text("Chain verification")
    expect(auditor.get_by_text("The chain is intact")).to_be_visible(timeout=60_000)
    guide_shots(auditor, "compliance-verification")


def test_staff_pages(demo_sign_in, demo_site, guide_shots):
    admin = demo_sign_in("admin")
    guide_shots(admin, "staff-dashboard")
    admin.goto(f"{demo_site.url}/admin/")
    expect(admin.locator("#site-name")).to_be_visible()
    guide_shots(admin, "staff-admin")


def test_api_user_creates_a_bound_token_and_calls_the_api(demo_sign_in, demo_site, guide_shots):
    owner = demo_sign_in("owner")
    owner.goto(f"{demo_site.url}/tokens/")
    owner.fill("#id_name", "GitHub Actions")
    owner.check("input[name=scopes][value='gate:check']")
    owner.check("input[name=scopes][value='agents:read']")
    # The agents to bind by slug, found by searching those the owner may bind.
    owner.fill("#agent-q", "hr-policy")
    matches = owner.get_by_test_id("agent-matches")
    expect(matches).to_contain_text("hr-policy-copilot")
    expect(matches.locator("li")).to_have_count(1)
    add = matches.locator("li", has_text="hr-policy-copilot").get_by_role("button")
    expect(add).to_have_accessible_name("Add hr-policy-copilot")
    add.click()
    expect(owner.locator("#id_agents")).to_have_value("hr-policy-copilot")
    add.click()  # a second Add leaves the one slug
    expect(owner.locator("#id_agents")).to_have_value("hr-policy-copilot")
    expect(add).to_have_accessible_name("Added hr-policy-copilot")
    guide_shots(owner, "api-token-new")
    owner.click("button:has-text('Create token')")
    secret = owner.get_by_test_id("token-secret").input_value()
    guide_shots(owner, "api-token-created")
    request = urllib.request.Request(
        f"{demo_site.url}/api/v1/gate/check",
        data=json.dumps({"agent": "hr-policy-copilot", "digest": "0" * 64}).encode(),
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the demo site
        answer = json.load(response)
    assert answer["decision"] == "deny" and answer["reasons"]
    # The API's reference, served from static/ (Swagger UI over the generated schema).
    owner.goto(f"{demo_site.url}/api/v1/docs/")
    expect(owner.locator(".swagger-ui .info .title")).to_contain_text("Countersign")
    expect(owner.locator(".opblock-summary-path", has_text="/api/v1/gate/check")).to_be_visible()
    guide_shots(owner, "api-docs")


def test_the_story_on_the_demo_data(demo_sign_in, demo_site, guide_shots):
    # The product owner registers an agent and submits its first package.
    owner = demo_sign_in("owner")
    register_agent(owner, None)
    expect(owner.locator(".flash li")).to_contain_text("registered")
    guide_shots(owner, "owner-agent-registered")
    write_package(owner, prefixed(guide_shots, "owner"))

    # Each dimension's reviewer finds it in their queue and approves.
    for index, (dimension, username) in enumerate(REVIEWERS.items()):
        reviewer = demo_sign_in(username)
        if index == 0:
            guide_shots(reviewer, "reviewer-dashboard")
        sign_off(reviewer, dimension, prefixed(guide_shots, "reviewer") if index == 0 else None)
        if index == 0:
            guide_shots(reviewer, "reviewer-decided")

    owner.goto(f"{demo_site.url}/agents/{SLUG}/")
    expect(owner.get_by_test_id("agent-status")).to_have_text("Approved")
    guide_shots(owner, "owner-agent-approved")

    # A security reviewer handles a drift finding and pulls the kill switch.
    security = demo_sign_in("security1")
    security.goto(f"{demo_site.url}/agents/hr-policy-copilot/")
    security.locator("a", has_text="Handle").first.click()
    expect(security.locator("h1")).to_contain_text("Drift finding")
    guide_shots(security, "security-finding")
    security.goto(f"{demo_site.url}/agents/{SLUG}/")
    security.click("text=Suspend (kill switch)")
    security.fill("#id_reason", "Unexpected writes to the enrolment system.")
    security.click("button:has-text('Continue')")
    expect(security.locator("h2")).to_contain_text("Confirm the suspension")
    guide_shots(security, "security-suspend-confirm")
    security.click(f"button:has-text('Suspend {SLUG} now')")
    expect(security.get_by_test_id("agent-status")).to_have_text("Suspended")
    guide_shots(security, "security-suspended")

    # The audit trail tells the story, to the owner as to compliance.
    owner.goto(f"{demo_site.url}/audit/?agent={SLUG}")
    expect(owner.locator("#audit-events")).to_contain_text("agent.suspended")
