"""The dashboard's "packages in review" counts what its link lists: every version in review."""

import copy

import pytest
from django.urls import reverse

from agents.models import AgentStatus
from approvals.models import PackageState
from tests.factories import AgentFactory
from tests.web.dom import parse

pytestmark = pytest.mark.django_db


def test_the_in_review_count_is_the_length_of_the_list_it_opens(
    client, workflow, agent, owner, reviewers
):
    approved = workflow.approve(agent)
    wider = copy.deepcopy(approved.manifest)
    wider["scope"]["tools"][0]["access"] = "admin"
    next_version = workflow.submit(agent, wider)
    first_version = workflow.submit(AgentFactory(slug="claims-helper", owners=[owner]))
    agent.refresh_from_db()
    assert agent.status == AgentStatus.APPROVED  # its next version waits all the same
    assert {next_version.state, first_version.state} == {PackageState.IN_REVIEW}

    client.force_login(reviewers["security"][0])
    page = parse(client.get(reverse("dashboard")).content)

    count = page.find("span", data_testid="in-review-count")
    [card] = [node for node in page.iter() if node.tag == "a" and count in node.children]
    assert count.text() == "2"
    assert card.text().endswith("packages in review")
    listed = client.get(card.attrs["href"]).context["page"].object_list
    assert {(p.agent.slug, p.version) for p in listed} == {
        (agent.slug, next_version.version),
        ("claims-helper", first_version.version),
    }
