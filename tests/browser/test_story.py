"""The whole story in a real Chromium: register, submit, four sign-offs, expand, suspend."""

import pytest
from playwright.sync_api import expect

from agents.models import Agent, AgentStatus
from approvals.models import ApprovalPackage, PackageState
from signoffs.models import Decision

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SLUG = "benefits-copilot"
REVIEWERS = {"iam": "ivan", "pam": "paula", "security": "sam", "compliance": "carla"}


# The editor's required fields past the justification and scope, as an owner types them
# (the keyboard test types the same ones).
PACKAGE_FIELDS = {
    "#id_model__provider": "example-llm",
    "#id_model__id": "example-llm-small-2026-08",
    "#id_model__prompt_digest": "sha256:" + "0b1c2d3e" * 8,
    "#id_credentials__max_ttl_seconds": "900",
    "#id_credentials__revocation": "Delete the SPIRE registration entry.",
    "#id_kill_switch__procedure": "Scale the deployment to zero.",
    "#id_kill_switch__owner": "people-ops-platform",
    "#id_kill_switch__max_minutes_to_revoke": "15",
    "#id_rollback__plan": "Redeploy the previous image.",
    "#id_logging__destinations": "siem",
    "#id_logging__retention_days": "365",
    "#id_logging__attribution": "Every call carries the SPIFFE ID.",
}


def register_agent(page, live_server):
    page.click("text=Register an agent")
    page.fill("#id_slug", SLUG)
    page.fill("#id_name", "Benefits copilot")
    page.select_option("#id_team", "people-ops")
    page.select_option("#id_deployment", "internal_copilot")
    page.fill("#id_workload_id", f"spiffe://corp.example.com/ns/people/sa/{SLUG}")
    page.fill("#id_log_principal", f"agent:{SLUG}")
    page.fill("#id_description", "Answers employees' questions about their benefits.")
    page.click("button:has-text('Register agent')")
    expect(page.locator("h1")).to_contain_text("Benefits copilot")
    expect(page.get_by_test_id("agent-status")).to_have_text("New")


def add_scope_entry(page, kind: str, index: int, identifier: str, access: str):
    """Add a row with the htmx button, then fill it in."""
    page.locator(f"#scope-{kind} button[name=add_row]").click()
    row_id = page.locator(f"#id_{kind}-{index}-id")
    expect(row_id).to_be_visible()
    row_id.fill(identifier)
    page.select_option(f"#id_{kind}-{index}-access", access)


def write_package(page, shots):
    page.click("text=Write a package")
    expect(page.locator("h1")).to_contain_text("New package version")
    # The editor starts from the agent's own fields.
    expect(page.locator("#id_identity__workload_id")).to_have_value(
        f"spiffe://corp.example.com/ns/people/sa/{SLUG}"
    )
    fields = {
        "#id_justification": "Answers benefits questions from the published plan documents.",
        **PACKAGE_FIELDS,
    }
    add_scope_entry(page, "tools", 0, "benefits-search", "read")
    add_scope_entry(page, "datasets", 0, "hr.benefit_plans", "read")
    # A wrong digest first: the error shows beside its field and nothing is saved.
    for selector, value in fields.items():
        page.fill(selector, value)
    page.fill("#id_model__prompt_digest", "sha256:abc")
    page.click("button:has-text('Save and submit for review')")
    error = page.locator(".field.has-error", has=page.locator("#id_model__prompt_digest"))
    expect(error).to_contain_text("64 lowercase hex digits")
    expect(page.locator("#id_tools-0-id")).to_have_value("benefits-search")
    shots(page, "03-editor-field-error")
    page.fill("#id_model__prompt_digest", fields["#id_model__prompt_digest"])
    page.click("button:has-text('Save and submit for review')")
    expect(page.get_by_test_id("package-state")).to_have_text("In review")
    expect(page.get_by_test_id("risk-tier")).to_have_text("Low risk")
    shots(page, "04-package-submitted")


def sign_off(page, dimension: str, shots=None):
    page.locator("#queue a", has_text="Benefits copilot").click()
    form = page.locator(f"#decide-{dimension}")
    expect(form).to_be_visible()
    # Only this reviewer's dimension has a decision form.
    expect(page.locator("form[action*='/decide/']")).to_have_count(1)
    for box in form.locator("input[type=checkbox]").all():
        box.check()
    form.locator("textarea").fill(f"{dimension.upper()} checklist verified.")
    if shots:
        shots(page, "05-review-checklist")
    form.locator("button:has-text('Approve')").click()
    confirm = page.get_by_test_id(f"confirm-{dimension}")
    expect(confirm).to_be_focused()
    expect(page.get_by_test_id(f"signoff-{dimension}")).to_have_text("Pending")
    confirm.locator("button").click()
    expect(page.get_by_test_id(f"signoff-{dimension}")).to_have_text("Approved")


def test_the_whole_story(live_server, sign_in, people, checklists, shots):
    # A product owner registers the agent and submits its first package.
    owner = sign_in("olivia")
    shots(owner, "01-dashboard-owner")
    register_agent(owner, live_server)
    shots(owner, "02-agent-registered")
    write_package(owner, shots)

    # Four reviewers, one per dimension, each find it in their queue and approve.
    for index, (dimension, username) in enumerate(REVIEWERS.items()):
        reviewer = sign_in(username)
        expect(reviewer.get_by_test_id("queue-count")).to_have_text("1")
        if index == 0:
            shots(reviewer, "05-dashboard-reviewer-queue")
        sign_off(reviewer, dimension, shots if index == 0 else None)
    package = ApprovalPackage.objects.get(agent__slug=SLUG, version=1)
    assert package.state == PackageState.APPROVED
    assert set(
        Decision.objects.filter(signoff__package=package).values_list(
            "reviewer__username", flat=True
        )
    ) == set(REVIEWERS.values())

    # The agent is approved.
    owner.goto(f"{live_server.url}/agents/{SLUG}/")
    expect(owner.get_by_test_id("agent-status")).to_have_text("Approved")
    shots(owner, "06-agent-approved")

    # The owner clones the approval, widens the scope, and sees every sign-off needed again.
    owner.click("button:has-text('New version from approved v1')")
    expect(owner.locator("h1")).to_contain_text("Draft v2")
    add_scope_entry(owner, "actions", 0, "benefits.enrolment.update", "write")
    owner.click("button:has-text('Save and submit for review')")
    expect(owner.get_by_test_id("package-state")).to_have_text("In review")
    notice = owner.get_by_test_id("review-needed")
    expect(notice).to_contain_text("expands the scope approved in v1")
    for dimension in REVIEWERS:
        expect(owner.get_by_test_id(f"signoff-{dimension}")).to_have_text("Pending")
    expect(owner.get_by_test_id("entries-changed")).to_contain_text(
        "New Action benefits.enrolment.update"
    )
    shots(owner, "07-expanded-version-needs-review")

    # A security reviewer pulls the kill switch, with a reason and a confirmation.
    security = sign_in("sam")
    security.goto(f"{live_server.url}/agents/{SLUG}/")
    security.click("text=Suspend (kill switch)")
    security.fill("#id_reason", "Unexpected writes to the enrolment system.")
    security.click("button:has-text('Continue')")
    expect(security.locator("h2")).to_contain_text("Confirm the suspension")
    shots(security, "08-suspend-confirm")
    security.click(f"button:has-text('Suspend {SLUG} now')")
    expect(security.get_by_test_id("agent-status")).to_have_text("Suspended")
    shots(security, "09-agent-suspended")
    agent = Agent.objects.get(slug=SLUG)
    assert agent.status == AgentStatus.SUSPENDED
    assert ApprovalPackage.objects.get(agent=agent, version=1).state == PackageState.REVOKED

    # The audit log tells the story.
    security.goto(f"{live_server.url}/audit/?agent={SLUG}")
    expect(security.locator("#audit-events")).to_contain_text("agent.suspended")
    shots(security, "10-audit-log")
