"""The drift finding page: security reviewers and staff acknowledge and resolve findings,
never those of an agent they own."""

import pytest
from django.urls import reverse

from approvals.gate import ALLOW, DENY, gate_check
from approvals.models import FindingStatus
from audit.actors import Actor
from tests.factories import AgentFactory, DriftFindingFactory

pytestmark = pytest.mark.django_db


def finding_url(finding):
    return reverse("finding-handle", args=[finding.agent.slug, finding.pk])


def gate(agent, digest):
    return gate_check(actor=Actor.system("ci"), agent_slug=agent.slug, digest=digest).decision


def test_security_acknowledges_then_resolves_and_the_gate_opens_again(
    client, workflow, agent, reviewers, audit_since
):
    package = workflow.approve(agent)
    finding = DriftFindingFactory(agent=agent)
    assert gate(agent, package.digest) == DENY
    security = reviewers["security"][0]
    client.force_login(security)
    assert finding_url(finding) in client.get(agent.get_absolute_url()).content.decode()
    page = client.get(finding_url(finding)).content.decode()
    assert "every gate check for" in page
    since = audit_since()
    response = client.post(finding_url(finding), {"action": "acknowledge", "text": "Looking."})
    assert response.status_code == 302
    finding.refresh_from_db()
    assert (finding.status, finding.resolution) == (FindingStatus.ACKNOWLEDGED, "Looking.")
    assert gate(agent, package.digest) == DENY, "an acknowledged critical finding still denies"
    response = client.post(finding_url(finding), {"action": "resolve", "text": "Tool removed."})
    assert response.status_code == 302
    finding.refresh_from_db()
    assert (finding.status, finding.resolution) == (FindingStatus.RESOLVED, "Tool removed.")
    assert gate(agent, package.digest) == ALLOW
    actions = [(e.action, e.actor_label) for e in since() if e.action.startswith("drift.")]
    assert actions == [
        ("drift.acknowledged", security.username),
        ("drift.resolved", security.username),
    ]
    # A resolved finding offers nothing more to do.
    assert finding_url(finding) not in client.get(agent.get_absolute_url()).content.decode()
    assert client.post(finding_url(finding), {"action": "resolve", "text": "x"}).status_code == 409


def test_resolving_needs_a_reason_and_changes_nothing_without_one(
    client, agent, reviewers, audit_since
):
    finding = DriftFindingFactory(agent=agent)
    client.force_login(reviewers["security"][0])
    since = audit_since()
    response = client.post(finding_url(finding), {"action": "resolve", "text": "  "})
    assert response.status_code == 400
    assert response.context["form"].errors["text"] == ["Say how it was resolved."]
    response = client.post(finding_url(finding), {"action": "close"})
    assert response.status_code == 400
    assert "action" in response.context["form"].errors
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN and since() == []


@pytest.mark.parametrize("who", ["iam", "compliance", "owner", "security_owner"])
def test_others_see_no_link_and_are_refused(client, agent, reviewers, owner, who):
    finding = DriftFindingFactory(agent=agent)
    if who == "security_owner":  # a security reviewer who owns the agent
        agent.owners.add(reviewers["security"][0])
    user = {"owner": owner, "security_owner": reviewers["security"][0]}.get(who)
    client.force_login(user or reviewers[who][0])
    assert finding_url(finding) not in client.get(agent.get_absolute_url()).content.decode()
    assert client.get(finding_url(finding)).status_code == 403
    response = client.post(finding_url(finding), {"action": "resolve", "text": "Because."})
    assert response.status_code == 403
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN


def test_a_finding_of_another_agent_is_not_found(client, agent, reviewers):
    finding = DriftFindingFactory(agent=AgentFactory(slug="other-bot"))
    client.force_login(reviewers["security"][0])
    url = reverse("finding-handle", args=[agent.slug, finding.pk])
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(("count", "seen"), [(1, "1 time, last"), (2, "2 times, last")])
def test_the_finding_says_how_often_it_was_seen(client, agent, reviewers, count, seen):
    finding = DriftFindingFactory(agent=agent, count=count)
    client.force_login(reviewers["security"][0])
    assert seen in client.get(finding_url(finding)).content.decode()
