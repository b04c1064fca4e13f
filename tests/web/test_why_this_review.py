"""The package page says why this review: the tier, the depth rule applied, the items
each dimension requires, and why each sign-off re-opened or carried over."""

import copy

import pytest
from django.urls import reverse

from agents.vocabulary import Deployment
from approvals.ownership import agent_update
from approvals.services import package_submit
from audit.actors import Actor
from tests.factories import AgentFactory, manifest_for
from tests.web.dom import parse

pytestmark = pytest.mark.django_db


def page(client, user, package):
    client.force_login(user)
    response = client.get(reverse("package-detail", args=[package.agent.slug, package.version]))
    assert response.status_code == 200
    return parse(response.content.decode())


def test_a_targeted_rereview_shows_what_reopened_and_what_carried_over(
    client, workflow, agent, reviewers
):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    second = workflow.submit(agent, doc)
    dom = page(client, reviewers["compliance"][1], second)
    why = dom.find(data_testid="why-review")
    assert dom.find(data_testid="review-depth").text() == "Full review"
    assert dom.find(data_testid="review-plan").text() == (
        "This version changes the rollback plan (rollback.plan) against v1."
    )
    assert dom.find(data_testid="required-pam").text() == (
        "Carried over; not reviewed in this version."
    )
    assert dom.find(data_testid="required-compliance").text() == (
        "Required: CMP-1, CMP-2, CMP-3, CMP-4, CMP-5, CMP-6, CMP-7."
    )
    assert "High risk" in why.text() or "Critical risk" in why.text()
    assert dom.find(data_testid="review-reason-iam").text() == (
        "Carried over from v1: no item of the IAM checklist covers the rollback "
        "plan (rollback.plan)."
    )
    assert dom.find(data_testid="signoff-iam").text() == "Carried over"
    assert dom.find(data_testid="signoff-compliance").text() == "Pending"
    assert dom.find(data_testid="go-decide-compliance")


def test_the_light_path_is_named_with_the_shorter_checklist(client, workflow, owner, reviewers):
    copilot = AgentFactory(
        slug="hr-policy-copilot", deployment=Deployment.INTERNAL_COPILOT, owners=[owner]
    )
    package = workflow.submit(copilot, manifest_for(copilot, "hr-copilot.yaml"))
    dom = page(client, reviewers["pam"][0], package)
    assert dom.find(data_testid="review-depth").text() == "Light path"
    why = dom.find(data_testid="why-review").text()
    assert "PAM attests there is no privileged pathway" in why
    assert dom.find(data_testid="required-pam").text() == (
        "Required: PAM-1, PAM-3, PAM-6; optional: PAM-2, PAM-4, PAM-5, PAM-7."
    )
    form = dom.find("section", id="decide-pam")
    labels = {
        label.text().split()[0]: label.text(spoken=True)
        for label in form.find_all("label", class_="check")
    }
    assert "(required)" in labels["PAM-1"] and "(optional)" in labels["PAM-2"]
    assert "(required)" not in labels["PAM-4"]


def test_a_draft_shows_the_depth_it_would_get(client, workflow, agent, owner):
    draft = workflow.create(agent)
    dom = page(client, owner, draft)
    assert dom.find(data_testid="review-depth").text() == "Full review"
    assert "(if submitted as it is)" in dom.find(data_testid="why-review").text()


def test_the_queue_leaves_out_a_version_whose_carried_signoff_the_user_decided(
    client, workflow, agent, reviewers
):
    from django.contrib.auth.models import Group

    from web.selectors import packages_awaiting

    first = workflow.approve(agent)
    both = reviewers["iam"][0]  # decided IAM of v1
    both.groups.add(Group.objects.get(name="compliance"))
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    second = workflow.submit(agent, doc)
    assert not packages_awaiting(both).filter(package=second).exists()
    other = reviewers["compliance"][1]
    assert [s.dimension for s in packages_awaiting(other).filter(package=second)] == ["compliance"]


def test_a_draft_says_which_teams_would_review_it_again(client, workflow, agent, owner):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["credentials"]["max_ttl_seconds"] = 3600
    draft = workflow.create(agent, doc)
    dom = page(client, owner, draft)
    assert dom.find(data_testid="plan-preview").text() == (
        "If submitted as it is: PAM would review it again; IAM, Security, Compliance "
        "would carry over."
    )
    assert dom.find(data_testid="review-plan").text() == (
        "This version changes the maximum credential TTL (credentials.max_ttl_seconds) against v1."
    )


def test_a_dimension_standing_on_an_owners_decision_says_why_it_reopened(
    client, workflow, agent, owner, reviewers
):
    first = workflow.approve(agent)
    security1 = reviewers["security"][0]
    agent_update(actor=Actor.for_user(owner), agent=agent, owners=[owner, security1])
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    draft = workflow.create(agent, doc)
    assert page(client, owner, draft).find(data_testid="plan-preview").text() == (
        "If submitted as it is: Security, Compliance would review it again; IAM, PAM would "
        "carry over."
    )
    second = package_submit(actor=Actor.for_user(owner), package=draft)
    dom = page(client, reviewers["security"][1], second)
    assert dom.find(data_testid="review-reason-security").text() == (
        "Re-opened: security1, who decided it in v1, owns the agent; its owners never sign "
        "off its packages."
    )
    assert dom.find(data_testid="signoff-security").text() == "Pending"
