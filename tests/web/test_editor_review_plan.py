"""The editor of a draft says which teams would review it again, as submitting it decides."""

import copy

import pytest
from django.urls import reverse

from agents.vocabulary import Deployment
from approvals.services import package_submit
from audit.actors import Actor
from tests.factories import AgentFactory, manifest_for
from tests.web.dom import parse

pytestmark = pytest.mark.django_db


def editor(client, user, package):
    client.force_login(user)
    response = client.get(reverse("package-edit", args=[package.agent.slug, package.version]))
    assert response.status_code == 200
    return parse(response.content.decode())


def test_a_draft_whose_tier_rises_says_every_team_reviews_it_again(client, workflow, owner):
    copilot = AgentFactory(
        slug="hr-policy-copilot", deployment=Deployment.INTERNAL_COPILOT, owners=[owner]
    )
    first = workflow.approve(copilot, manifest_for(copilot, "hr-copilot.yaml"))
    doc = copy.deepcopy(first.manifest)
    doc["scope"]["tools"][0]["access"] = "write"
    draft = workflow.create(copilot, doc)
    section = editor(client, owner, draft).find("section", aria_labelledby="draft-diff")
    assert "carry over" not in section.text()
    assert section.find(data_testid="editor-review-plan").text() == (
        "If submitted as it is, every team reviews it again. The risk tier rises from low to "
        "medium: every dimension reviews again."
    )
    second = package_submit(actor=Actor.for_user(owner), package=draft)
    assert not second.review_plan["carried_over"]


def test_a_targeted_draft_names_the_teams_that_review_and_those_that_carry_over(
    client, workflow, agent, owner
):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["credentials"]["max_ttl_seconds"] = 3600
    draft = workflow.create(agent, doc)
    section = editor(client, owner, draft).find("section", aria_labelledby="draft-diff")
    assert section.find(data_testid="editor-review-plan").text() == (
        "If submitted as it is: PAM would review it again; IAM, Security, Compliance "
        "would carry over."
    )
