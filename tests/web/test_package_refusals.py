"""Who may not write an agent's packages is refused with 403, and nothing changes.

People who see an agent without owning it (its team's members, reviewers,
compliance officers) read its packages but neither submit nor upload them.
"""

import pytest
from django.urls import reverse

from approvals.models import PackageState
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def teammate(agent):
    """A member of the agent's team with no role: sees the agent, owns nothing."""
    user = UserFactory(username="teammate")
    agent.team.members.add(user)
    return user


@pytest.fixture(params=["teammate", "iam", "compliance-officer"])
def onlooker(request, teammate, reviewers):
    if request.param == "teammate":
        return teammate
    if request.param == "iam":
        return reviewers["iam"][0]
    return UserFactory(username="auditor", groups=["compliance-officer"])


def test_submitting_a_draft_one_does_not_own_is_refused(
    client, workflow, agent, onlooker, audit_since
):
    draft = workflow.create(agent)
    since = audit_since()
    client.force_login(onlooker)
    response = client.post(reverse("package-submit", args=[agent.slug, draft.version]))
    assert response.status_code == 403
    assert b"not_owner" in response.content
    draft.refresh_from_db()
    assert draft.state == PackageState.DRAFT
    assert since() == []


def test_uploading_a_manifest_to_an_agent_one_does_not_own_is_refused_before_the_editor(
    client, workflow, agent, onlooker, audit_since
):
    workflow.approve(agent)
    since = audit_since()
    client.force_login(onlooker)
    url = reverse("package-upload", args=[agent.slug])
    for data in ({}, {"manifest_text": "agent: [unclosed"}):
        response = client.post(url, data)
        assert response.status_code == 403, data
        assert b'name="manifest_text"' not in response.content
    assert agent.packages.count() == 1
    assert since() == []
