"""The evidence bundle names who was eligible to decide each dimension when it was decided."""

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.urls import reverse

from agents.membership import (
    Source,
    reviewer_assign,
    reviewer_unassign,
    user_flags_set,
    user_groups_set,
)
from approvals.eligibility import eligibility_of
from approvals.models import PackageState
from audit import signing
from audit.actors import Actor
from audit.models import AuditEvent
from signoffs.models import Decision, Dimension
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "verify-evidence"
STAFF = Actor.system("tests")


def groups(user, *names):
    user_groups_set(user, names, actor=STAFF, source=Source.PAGE)


def assign(agent, user, permission, *, revoke=False):
    service = reviewer_unassign if revoke else reviewer_assign
    service(actor=STAFF, agent=agent, user=user, permission=permission, source=Source.PAGE)


@pytest.fixture
def decided(workflow, agent, reviewers, owner):
    """A package decided while groups and assignments change before and after each decision."""
    iam1, iam2 = reviewers[Dimension.IAM]
    compliance1, compliance2 = reviewers[Dimension.COMPLIANCE]
    leaver = UserFactory(username="leaver")
    late = UserFactory(username="late")
    groups(leaver, "iam")
    groups(iam1, "iam", "pam")  # iam1 may review PAM too, until they decide IAM
    owner.groups.add(*iam1.groups.filter(name="iam"))  # the submitter is in the group
    assign(agent, compliance2, "review_compliance")
    package = workflow.submit(agent)
    workflow.decide(package, Dimension.IAM, iam1)
    groups(leaver)  # leaves after the IAM decision: they were eligible at it
    groups(late, "iam")  # joins after it: they were not
    workflow.decide(package, Dimension.PAM)
    workflow.decide(package, Dimension.COMPLIANCE, compliance2)
    assign(agent, compliance2, "review_compliance", revoke=True)
    for reviewer in reviewers[Dimension.SECURITY]:
        workflow.decide(package, Dimension.SECURITY, reviewer)
    package.refresh_from_db()
    assert package.state == PackageState.APPROVED
    return package


@pytest.fixture
def bundle(client, decided, tmp_path):
    auditor = UserFactory(username="auditor", groups=["compliance-officer"])
    client.force_login(auditor)
    url = reverse("api-package-evidence", args=[decided.agent.slug, decided.version])
    response = client.get(url)
    assert response.status_code == 200
    path = tmp_path / "bundle.zip"
    path.write_bytes(b"".join(response.streaming_content))
    return path


def read(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def test_each_decision_lists_who_was_eligible_at_its_moment(bundle):
    eligibility = json.loads(read(bundle)["eligibility.json"])
    assert "last recorded change before the decision" in eligibility["rule"]
    rows = {
        row["dimension"]: row for row in eligibility["decisions"] if row["dimension"] != "security"
    }
    iam = rows["iam"]
    # Present at the decision: the two reviewers and the leaver; the late joiner was not.
    assert (iam["reviewer"], iam["eligible"]) == ("iam1", ["iam1", "iam2", "leaver"])
    assert iam["excluded"] == [{"user": "owner", "reason": "self_review"}]
    assert iam["reviewer_was_eligible"] is True and iam["reviewers_assigned"] == []
    assert iam["basis"]  # the leaver's and iam1's group events
    # iam1, a PAM member too, had decided IAM before the PAM decision.
    pam = rows["pam"]
    assert pam["eligible"] == ["pam1", "pam2"]
    assert pam["excluded"] == [{"user": "iam1", "reason": "other_dimension"}]
    # Compliance had an assigned reviewer at its decision (revoked after it).
    compliance = rows["compliance"]
    assert compliance["reviewers_assigned"] == ["compliance2"]
    assert compliance["eligible"] == ["compliance2"]
    assert compliance["excluded"] == [{"user": "compliance1", "reason": "not_assigned"}]
    security = [row for row in eligibility["decisions"] if row["dimension"] == "security"]
    # The second security reviewer decided after the first: the first was then excluded.
    assert [row["eligible"] for row in security] == [
        ["security1", "security2"],
        ["security2"],
    ]
    assert all(row["reviewer_was_eligible"] for row in eligibility["decisions"])


def test_the_summary_names_the_eligible_and_the_bundle_still_verifies(bundle):
    summary = read(bundle)["summary.html"].decode()
    assert "Eligible to decide at that moment" in summary
    assert "iam1, iam2, leaver" in summary
    assert "compliance1 (not_assigned)" in summary
    result = subprocess.run(
        [sys.executable, str(VERIFIER), str(bundle), "--fingerprint", signing.fingerprint()],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout
    assert "file eligibility.json" in result.stdout


def test_an_account_deactivated_at_the_decision_was_not_eligible(workflow, agent, reviewers):
    iam1 = reviewers[Dimension.IAM][0]
    gone, later, back = (UserFactory(username=name) for name in ("gone", "later", "back"))
    for user in (gone, later, back):
        groups(user, "iam")
    package = workflow.submit(agent)
    for user in (gone, back):
        user_flags_set(user, actor=STAFF, source=Source.PAGE, is_active=False)
    workflow.decide(package, Dimension.IAM, iam1)
    user_flags_set(later, actor=STAFF, source=Source.PAGE, is_active=False)  # leaves after it
    user_flags_set(back, actor=STAFF, source=Source.PAGE, is_active=True)  # returns after it

    (row,) = eligibility_of(Decision.objects.filter(signoff__package=package))["decisions"]

    assert row["eligible"] == ["iam1", "iam2", "later"]
    assert row["excluded"] == [
        {"user": "back", "reason": "inactive"},
        {"user": "gone", "reason": "inactive"},
    ]
    deactivated = AuditEvent.objects.filter(
        action="user.active_changed", target_id__in=[str(gone.pk), str(back.pk)]
    )
    assert set(deactivated.filter(after={"is_active": False}).values_list("seq", flat=True)) <= set(
        row["basis"]
    )
