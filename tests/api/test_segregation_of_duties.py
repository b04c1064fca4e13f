"""Segregation of duties over HTTP: owners never review, and never choose who reviews.

Whoever owned the agent from a package's submission until the decision never
decides it; an owner change that would change who may review a package in
review is refused with an `owners` error.
"""

import pytest

from agents.models import Agent
from approvals.models import PackageState
from signoffs.models import Decision, Dimension, Verdict
from tests.api.conftest import error_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

AGENT = "/api/v1/agents/support-assistant"


def decide(client, workflow, package, dimension):
    return client.post(
        f"{AGENT}/packages/{package.version}/signoffs/{dimension}/decisions",
        {"verdict": "approve", "answers": workflow.answers(package, dimension)},
        format="json",
    )


def owners_of(agent) -> set[str]:
    return set(Agent.objects.get(pk=agent.pk).owners.values_list("username", flat=True))


@pytest.fixture
def co_owner(agent, reviewers):
    """A security reviewer who co-owns the agent from before its package is submitted."""
    security = reviewers["security"][0]
    agent.owners.add(security)
    return security


def test_an_owner_who_steps_out_still_cannot_approve(api, workflow, agent, owner, co_owner):
    package = workflow.submit(agent)
    client = api(co_owner)
    assert error_of(decide(client, workflow, package, "security"))["code"] == "owner_review"
    response = client.patch(AGENT, {"owners": ["owner"]}, format="json")
    assert response.status_code == 200, response.json()
    assert owners_of(agent) == {"owner"}
    response = decide(client, workflow, package, "security")
    assert response.status_code == 403
    assert error_of(response)["code"] == "owner_review"
    assert not Decision.objects.filter(signoff__package=package).exists()


def test_an_owner_cannot_make_reviewers_owners_while_in_review(
    api, workflow, agent, owner, reviewers, audit_since
):
    package = workflow.submit(agent)
    security, iam = reviewers["security"][0], reviewers["iam"][0]
    client = api(owner)
    since = audit_since()
    response = client.patch(AGENT, {"owners": ["owner", "security1", "iam1"]}, format="json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "owners_in_review"
    assert set(error["fields"]) == {"owners"}
    problems = " ".join(error["fields"]["owners"])
    assert "security1" in problems and "iam1" in problems and "v1" in problems
    assert owners_of(agent) == {"owner"}
    assert since() == []
    # Still reviewers, not owners: they may decide and may not write.
    assert decide(api(security), workflow, package, "security").status_code == 201
    assert decide(api(iam), workflow, package, "iam").status_code == 201
    response = api(iam).patch(AGENT, {"description": "Mine."}, format="json")
    assert response.status_code == 403


def test_one_refused_owner_refuses_the_whole_change(api, workflow, agent, owner, reviewers):
    workflow.submit(agent)
    UserFactory(username="po2", groups=["product-owner"])
    response = api(owner).patch(
        AGENT, {"owners": ["owner", "po2", "pam1"], "description": "New."}, format="json"
    )
    assert response.status_code == 400
    assert error_of(response)["fields"]["owners"][0].startswith("pam1 ")
    agent.refresh_from_db()
    assert (owners_of(agent), agent.description) == ({"owner"}, "")


def test_owners_change_freely_when_no_package_is_in_review(api, workflow, agent, owner):
    response = api(owner).patch(AGENT, {"owners": ["owner", "security1"]}, format="json")
    assert response.status_code == 200, response.json()
    # Owning it at submission, the security reviewer never decides that package.
    package = workflow.submit(agent)
    response = decide(api(workflow.reviewers["security"][0]), workflow, package, "security")
    assert error_of(response)["code"] == "owner_review"


def test_product_owners_may_join_and_leave_while_in_review(api, workflow, agent, owner):
    package = workflow.submit(agent)
    po2 = api(UserFactory(username="po2", groups=["product-owner"]))
    client = api(owner)
    assert client.patch(AGENT, {"owners": ["owner", "po2"]}, format="json").status_code == 200
    assert client.patch(AGENT, {"owners": ["po2"]}, format="json").status_code == 200
    # The submitter steps out and is brought back: neither changes who may review.
    assert po2.patch(AGENT, {"owners": ["po2", "owner"]}, format="json").status_code == 200
    package.refresh_from_db()
    assert package.state == PackageState.IN_REVIEW
    assert set(package.owners_in_review.values_list("username", flat=True)) == {"owner", "po2"}


def test_a_reviewer_who_already_decided_cannot_become_an_owner(api, workflow, agent, owner):
    package = workflow.submit(agent)
    workflow.decide(package, Dimension.PAM)
    response = api(owner).patch(AGENT, {"owners": ["owner", "pam1"]}, format="json")
    assert response.status_code == 400
    assert "pam1" in error_of(response)["fields"]["owners"][0]


def test_someone_who_joined_the_owners_in_review_never_decides_it(
    api, workflow, agent, owner, audit_since
):
    package = workflow.submit(agent)
    joiner = UserFactory(username="joiner", groups=["product-owner"])
    client = api(owner)
    assert client.patch(AGENT, {"owners": ["owner", "joiner"]}, format="json").status_code == 200
    joiner.groups.add(*workflow.reviewers["compliance"][0].groups.all())
    assert client.patch(AGENT, {"owners": ["owner"]}, format="json").status_code == 200
    response = decide(api(joiner), workflow, package, "compliance")
    assert response.status_code == 403
    assert error_of(response)["code"] == "owner_review"


def test_a_later_version_is_judged_by_its_own_owners(api, workflow, agent, owner, co_owner):
    first = workflow.submit(agent)
    assert api(co_owner).patch(AGENT, {"owners": ["owner"]}, format="json").status_code == 200
    second_security = workflow.reviewers["security"][1]
    workflow.decide(first, Dimension.SECURITY, second_security, Verdict.REJECT, "Too wide.")
    first.refresh_from_db()
    assert first.state == PackageState.REJECTED
    # The next version is submitted when the security reviewer no longer owns the agent.
    second = workflow.submit(agent)
    assert decide(api(co_owner), workflow, second, "security").status_code == 201
