"""Runtime usage on the agent page and beside the checklist of every review (a
re-certification's too), and "narrow to what was used" with its confirmation."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from agents.observations import observations_record
from approvals.models import ApprovalPackage, PackageState
from approvals.recertification import recertification_open
from audit.actors import Actor
from audit.models import AuditEvent
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")


def used(agent, *identifiers, kind="action", access="read"):
    items = [{"kind": kind, "identifier": i, "access": access} for i in identifiers]
    observations_record(actor=SYSTEM, agent=agent, items=items)


def section(html: str) -> str:
    start = html.index('data-testid="runtime-usage"')
    return html[start : html.index("</section>", start)]


def test_the_agent_page_shows_usage_per_entry_and_marks_the_unused(client, workflow, agent, owner):
    workflow.approve(agent)
    used(agent, "ticket.create")
    used(agent, "shell", kind="tool", access="execute")
    client.force_login(owner)
    html = section(client.get(reverse("agent-detail", args=[agent.slug])).content.decode())
    assert html.count('data-testid="usage-row"') == 8  # every entry of the reference manifest
    assert html.count("Never used") == 7
    assert "Outside the approved scope" in html and "<code>shell</code>" in html
    assert reverse("agent-narrow", args=[agent.slug]) in html


def test_the_agent_page_query_count_does_not_grow_with_usage(client, workflow, agent, owner):
    workflow.approve(agent)
    client.force_login(owner)
    path = reverse("agent-detail", args=[agent.slug])
    used(agent, "ticket.create")
    client.get(path)
    with CaptureQueriesContext(connection) as few:
        client.get(path)
    used(agent, *[f"tool-{n}" for n in range(20)], kind="tool")
    used(agent, "refund.issue", "kb-search")
    with CaptureQueriesContext(connection) as many:
        client.get(path)
    assert len(many) == len(few)


def test_reviewers_see_usage_on_a_recertification_and_no_narrowing_offer(
    client, workflow, agent, reviewers
):
    approved = workflow.approve(agent)
    used(agent, "ticket.create")
    # Due: its expiry is within the re-certification lead time.
    ApprovalPackage.objects.filter(pk=approved.pk).update(
        expires_at=timezone.now() + timedelta(days=3)
    )
    recertification = recertification_open(actor=SYSTEM, package=approved)
    assert recertification.is_recertification
    client.force_login(reviewers["security"][0])
    page = client.get(reverse("package-detail", args=[agent.slug, recertification.version]))
    html = section(page.content.decode())
    assert html.count('data-testid="usage-row"') == 8
    assert 'data-testid="narrow-link"' not in html  # reviewers do not write packages


def listed(html: str, testid: str, end: str = "</ul>") -> str:
    """Return the element carrying data-testid, up to `end`."""
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index(end, start)]


def test_the_owner_narrows_after_a_confirmation(client, workflow, agent, owner):
    """ticket.create is used at its approved write, refund.issue (execute) only at read."""
    approved = workflow.approve(agent)
    used(agent, "ticket.create", access="write")
    used(agent, "refund.issue")
    client.force_login(owner)
    detail = client.get(reverse("agent-detail", args=[agent.slug])).content.decode()
    assert "removes 6 entries unused for 90 days and lowers 1 entry to the access used" in detail
    path = reverse("agent-narrow", args=[agent.slug])
    confirm = client.get(path).content.decode()
    assert listed(confirm, "narrow-removed").count("<li>") == 6
    assert "<code>kb-search</code>" in listed(confirm, "narrow-removed")
    assert "<code>refund.issue</code>: Execute to Read" in listed(confirm, "narrow-lowered")
    assert "<code>ticket.create</code> (Write)" in listed(confirm, "narrow-kept")
    assert agent.packages.count() == 1  # showing the confirmation changes nothing
    response = client.post(path)
    draft = agent.packages.get(version=approved.version + 1)
    assert response.status_code == 302 and response.url == draft.get_absolute_url()
    assert draft.state == PackageState.DRAFT
    assert sorted(draft.entries.values_list("identifier", "access")) == [
        ("refund.issue", "read"),
        ("ticket.create", "write"),
    ]
    assert (
        AuditEvent.objects.filter(action="package.narrowed", actor_label=owner.username).count()
        == 1
    )


def test_a_refused_narrowing_says_why_and_changes_nothing(
    client, workflow, agent, owner, reviewers
):
    workflow.approve(agent)
    client.force_login(reviewers["iam"][0])
    assert client.post(reverse("agent-narrow", args=[agent.slug])).status_code == 403
    client.force_login(owner)
    path = reverse("agent-narrow", args=[agent.slug])
    refusal = listed(client.get(path).content.decode(), "narrow-refusal", "</div>")  # none used
    assert "empty scope" in refusal and "<form" not in refusal
    response = client.post(path)
    assert response.status_code == 409
    assert b"empty scope" in response.content
    assert agent.packages.count() == 1


def test_the_review_page_gives_the_enforcement_reason(client, workflow, agent, owner):
    package = workflow.create(agent, manifest_for(agent, "hr-copilot.yaml"))
    client.force_login(owner)
    html = client.get(reverse("package-detail", args=[agent.slug, package.version])).content
    html = html.decode()
    risk = html[html.index('id="risk-title"') :].split("</section>")[0]
    assert "High" in risk
    assert "no runtime decisions were seen from its enforcement point in the last 14 days" in risk
