"""A review in full open when its agent is suspended: the page shows the decisions made before
as set aside, counts only those made since, and offers their reviewers the sign-off again."""

import pytest

from approvals.services import agent_suspend
from audit.actors import Actor
from tests.factories import manifest_for
from tests.web.test_review_permissions import decide_url, review_url
from web.selectors import packages_awaiting

pytestmark = pytest.mark.django_db


def test_the_review_page_shows_decisions_set_aside_by_a_suspension(
    client, workflow, agent, reviewers, staff
):
    workflow.approve(agent)
    wider = manifest_for(agent)
    wider["scope"]["tools"].append({"id": "refund-issue-2", "access": "read", "justification": "x"})
    full = workflow.submit(agent, wider)
    iam = reviewers["iam"][0]
    workflow.decide(full, "iam", iam)
    workflow.decide(full, "security", reviewers["security"][0])
    assert not packages_awaiting(iam).filter(package=full).exists()
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 50.")
    client.force_login(iam)
    html = client.get(review_url(full)).content.decode()
    assert 'data-testid="set-aside-iam"' in html and 'data-testid="set-aside-security"' in html
    assert "after this decision; it no longer counts." in html
    assert "0 of 1 approval ·" in html and "0 of 2 approvals ·" in html
    assert 'data-testid="review-reason-iam">Re-opened: the agent was suspended' in html
    assert decide_url(full, "iam") in html  # the reviewer decides it again
    assert packages_awaiting(iam).filter(package=full, dimension="iam").exists()
