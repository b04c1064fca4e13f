"""Who may give an emergency approval follows who may decide the package's sign-off of the
dimension: a staff reassignment, an absent reviewer's delegate and, past the review target,
the agent's fallback reviewers, as the evidence's eligibility reads them back."""

import io
import json
import zipfile

import pytest

from approvals.delegation import signoff_reassign
from approvals.emergency import emergency_approve, emergency_request
from approvals.evidence import package_evidence
from audit.actors import Actor
from audit.models import AuditEvent
from config.errors import NotPermitted
from signoffs.models import Dimension
from tests.approvals.test_delegation import away

pytestmark = pytest.mark.django_db

PAM = Dimension.PAM
URGENT = "Fix for incident 42 must ship tonight."


@pytest.fixture
def asked(workflow, agent, assigned):
    """v1 in review under an emergency request; pam1 is the agent's assigned PAM reviewer."""
    package = workflow.submit(agent)
    emergency_request(actor=Actor.for_user(workflow.owner), package=package, reason=URGENT)
    return package


def approve(user, package, dimension=PAM):
    return emergency_approve(actor=Actor.for_user(user), package=package, dimension=dimension)


def refused_code(user, package, dimension=PAM) -> str:
    with pytest.raises(NotPermitted) as refused:
        approve(user, package, dimension)
    return refused.value.code


def emergency_eligibility(package) -> dict:
    _, bundle = package_evidence(actor=Actor.system("ci"), package=package)
    with zipfile.ZipFile(io.BytesIO(bundle.read())) as z:
        rows = json.loads(z.read("eligibility.json"))["emergency_approvals"]
    return {row["dimension"]: row for row in rows}


def test_after_a_staff_reassignment_only_the_new_reviewer_approves(
    workflow, asked, reviewers, staff
):
    first, other = reviewers["pam"]
    signoff_reassign(
        actor=Actor.for_user(staff), package=asked, dimension=PAM, user=other, reason="Leave."
    )
    assert refused_code(first, asked) == "not_assigned"
    approve(other, asked)
    approve(reviewers["security"][0], asked, Dimension.SECURITY)
    row = emergency_eligibility(asked)[PAM]
    assert (row["reviewer"], row["reviewer_was_eligible"]) == ("pam2", True)
    assert row["reviewers_assigned"] == ["pam2"]
    assert {"user": "pam1", "reason": "not_assigned"} in row["excluded"]


def test_the_delegate_of_the_absent_assigned_reviewer_approves_on_their_behalf(
    workflow, asked, reviewers
):
    absent, delegate = reviewers["pam"]
    away(absent, delegate)
    approve(delegate, asked)
    event = AuditEvent.objects.get(action="emergency.approved", data__dimension=PAM)
    assert (event.data["basis"], event.data["on_behalf_of"]) == ("delegate", "pam1")
    approve(reviewers["security"][0], asked, Dimension.SECURITY)
    row = emergency_eligibility(asked)[PAM]
    assert (row["reviewer"], row["reviewer_was_eligible"]) == ("pam2", True)
    assert (row["approved_as"], row["stood_in"]) == ("delegate", ["pam2"])


def test_an_unassigned_reviewer_neither_delegate_nor_fallback_is_refused(asked, reviewers):
    assert refused_code(reviewers["pam"][1], asked) == "not_assigned"
