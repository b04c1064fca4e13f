"""Who sees and who may use the decision forms of the review page (docs/design.md rules 2, 3)."""

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from approvals.models import PackageState
from signoffs.models import Decision, Dimension, SignOffState
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def review_url(package):
    return reverse("package-detail", args=[package.agent.slug, package.version])


def decide_url(package, dimension):
    return reverse("package-decide", args=[package.agent.slug, package.version, dimension])


def approve_data(workflow, package, dimension, verdict="approve", comment="Checked."):
    data = {f"{dimension}-verdict": verdict, f"{dimension}-comment": comment}
    data[f"{dimension}-confirmed"] = "1"  # as posted by the approval's confirmation step
    for code in workflow.answers(package, dimension):
        data[f"{dimension}-item_{code}"] = "on"
    return data


def test_reviewer_sees_only_their_dimension_form(client, workflow, agent, reviewers):
    package = workflow.submit(agent)
    client.force_login(reviewers[Dimension.IAM][0])
    response = client.get(review_url(package))
    assert response.status_code == 200
    html = response.content.decode()
    assert decide_url(package, Dimension.IAM) in html
    for other in (Dimension.PAM, Dimension.SECURITY, Dimension.COMPLIANCE):
        assert decide_url(package, other) not in html
        assert f'name="{other}-verdict"' not in html
    cards = {card["signoff"].dimension: card for card in response.context["cards"]}
    assert cards[Dimension.IAM]["form"] is not None
    assert all(cards[d]["form"] is None for d in cards if d != Dimension.IAM)
    # The checklist shows the framework controls each item cites.
    first = cards[Dimension.IAM]["form"].items[0]
    assert first.controls and all(control in html for control in first.controls)


def test_reviewer_cannot_post_another_dimensions_decision(client, workflow, agent, reviewers):
    package = workflow.submit(agent)
    client.force_login(reviewers[Dimension.IAM][0])
    response = client.post(
        decide_url(package, Dimension.SECURITY),
        approve_data(workflow, package, Dimension.SECURITY),
    )
    assert response.status_code == 403
    assert b"not_reviewer" in response.content
    assert not Decision.objects.filter(signoff__package=package).exists()
    assert package.signoffs.get(dimension=Dimension.SECURITY).state == SignOffState.PENDING


def test_owner_sees_no_decision_form_and_cannot_approve_own_package(client, workflow, agent, owner):
    owner.groups.add(*workflow.reviewers[Dimension.IAM][0].groups.all())
    package = workflow.submit(agent)
    client.force_login(owner)
    response = client.get(review_url(package))
    assert response.status_code == 200
    html = response.content.decode()
    assert "package-decide" not in html
    for dimension in Dimension.values:
        assert decide_url(package, dimension) not in html
    response = client.post(
        decide_url(package, Dimension.IAM), approve_data(workflow, package, Dimension.IAM)
    )
    assert response.status_code == 403
    assert b"self_review" in response.content
    assert not Decision.objects.filter(signoff__package=package).exists()


def test_product_owner_of_another_team_cannot_post_a_decision(client, workflow, agent, other_owner):
    package = workflow.submit(agent)
    client.force_login(other_owner)
    response = client.post(
        decide_url(package, Dimension.PAM), approve_data(workflow, package, Dimension.PAM)
    )
    # The agent is outside a product owner's team: it does not exist for them.
    assert response.status_code == 404
    assert not Decision.objects.exists()


def test_reviewer_approves_through_the_form_and_the_audit_names_them(
    client, workflow, agent, reviewers, audit_since
):
    package = workflow.submit(agent)
    reviewer = reviewers[Dimension.PAM][0]
    client.force_login(reviewer)
    since = audit_since()
    response = client.post(
        decide_url(package, Dimension.PAM), approve_data(workflow, package, Dimension.PAM)
    )
    assert response.status_code == 302
    assert response["Location"] == review_url(package)
    decision = Decision.objects.get(signoff__package=package)
    assert (decision.reviewer, decision.verdict) == (reviewer, "approve")
    assert decision.answers == {code: True for code in workflow.answers(package, "pam")}
    events = [e for e in since() if e.action == "signoff.decided"]
    assert len(events) == 1 and events[0].actor_label == reviewer.username
    # Having decided, the reviewer no longer sees a form for the package.
    response = client.get(review_url(package))
    assert all(card["form"] is None for card in response.context["cards"])


def test_unticked_required_items_are_shown_beside_the_items(client, workflow, agent, reviewers):
    package = workflow.submit(agent)
    client.force_login(reviewers[Dimension.IAM][0])
    data = approve_data(workflow, package, Dimension.IAM)
    first = next(key for key in data if "-item_" in key)
    del data[first]
    response = client.post(decide_url(package, Dimension.IAM), data)
    assert response.status_code == 400
    form = next(c["form"] for c in response.context["cards"] if c["signoff"].dimension == "iam")
    field = first.removeprefix("iam-")
    assert form.errors[field] == ["Approving needs this required item answered yes."]
    assert not Decision.objects.exists()


def test_refusing_needs_a_comment(client, workflow, agent, reviewers):
    package = workflow.submit(agent)
    client.force_login(reviewers[Dimension.SECURITY][0])
    response = client.post(
        decide_url(package, Dimension.SECURITY),
        {"security-verdict": "reject", "security-comment": ""},
    )
    assert response.status_code == 400
    form = next(
        c["form"] for c in response.context["cards"] if c["signoff"].dimension == "security"
    )
    assert form.errors["comment"] == ["A comment is required to refuse."]
    package.refresh_from_db()
    assert package.state == PackageState.IN_REVIEW


def test_decision_on_a_closed_package_is_refused(client, workflow, agent, reviewers):
    package = workflow.approve(agent)
    client.force_login(reviewers[Dimension.IAM][1])
    response = client.post(
        decide_url(package, Dimension.IAM), approve_data(workflow, package, Dimension.IAM)
    )
    assert response.status_code == 409
    assert b"not_in_review" in response.content


def test_get_on_the_decision_endpoint_changes_nothing(client, workflow, agent, reviewers):
    package = workflow.submit(agent)
    client.force_login(reviewers[Dimension.IAM][0])
    assert client.get(decide_url(package, Dimension.IAM)).status_code == 405


def test_audit_readers_get_the_evidence_bundle_link(client, workflow, agent, reviewers, owner):
    package = workflow.approve(agent)
    link = reverse("api-package-evidence", args=[agent.slug, package.version])
    client.force_login(reviewers[Dimension.COMPLIANCE][0])
    assert link in client.get(review_url(package)).content.decode()
    client.force_login(owner)
    assert link not in client.get(review_url(package)).content.decode()


def test_a_reviewer_who_may_not_decide_is_told_why(client, workflow, agent, reviewers):
    package = workflow.submit(agent)
    reviewer = reviewers[Dimension.IAM][0]
    workflow.decide(package, Dimension.IAM, reviewer)
    reviewer.groups.add(*reviewers[Dimension.PAM][0].groups.all())
    client.force_login(reviewer)
    response = client.get(review_url(package))
    cards = {card["signoff"].dimension: card for card in response.context["cards"]}
    assert cards[Dimension.PAM]["form"] is None
    assert (
        cards[Dimension.PAM]["refusal"] == "You decided the iam sign-off of this package already."
    )
    assert cards[Dimension.SECURITY]["refusal"] == ""
    assert "You decided the iam sign-off" in response.content.decode()


def test_a_critical_package_waits_for_a_second_security_reviewer(
    client, workflow, agent, reviewers
):
    package = workflow.submit(agent)
    assert package.risk_tier == "critical"
    first, second = reviewers[Dimension.SECURITY]
    client.force_login(first)
    client.post(
        decide_url(package, Dimension.SECURITY),
        approve_data(workflow, package, Dimension.SECURITY),
    )
    client.force_login(second)
    response = client.get(review_url(package))
    card = next(c for c in response.context["cards"] if c["signoff"].dimension == "security")
    assert card["form"] is not None
    assert (card["approvals"], card["signoff"].required_approvals) == (1, 2)
    assert "1 of 2 approvals" in response.content.decode()


@pytest.mark.parametrize("who", ["teammate", "unassigned", "other_dimension"])
def test_an_incomplete_decision_of_someone_who_may_not_decide_is_refused_not_corrected(
    client, workflow, agent, reviewers, who
):
    """The refusal comes first: a form's errors are for those the page gives the form."""
    assign_perm("agents.review_iam", reviewers[Dimension.IAM][0], agent)
    package = workflow.submit(agent)
    teammate = UserFactory(username="teammate")
    agent.team.members.add(teammate)
    user, code = {
        "teammate": (teammate, b"not_reviewer"),
        "unassigned": (reviewers[Dimension.IAM][1], b"not_assigned"),
        "other_dimension": (reviewers[Dimension.PAM][0], b"not_reviewer"),
    }[who]
    client.force_login(user)
    response = client.post(decide_url(package, Dimension.IAM), {"iam-verdict": "maybe"})
    assert response.status_code == 403
    assert code in response.content
    assert not Decision.objects.filter(signoff__package=package).exists()
