"""The evidence bundle of a version approved after a suspension: the decisions the suspension
set aside are in it, marked, and the offline verifier holds the marks to the chain."""

import json

import pytest

from approvals.evidence import package_evidence
from approvals.models import PackageState
from approvals.rereview import SIGNOFFS_REOPENED
from audit import signing
from audit.actors import Actor
from audit.models import AuditEvent
from signoffs.models import Dimension
from tests.audit.test_evidence import read, resign, run_verifier, write

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved_after_suspension(workflow, agent, staff):
    """v2, reviewed in full: iam1's IAM approval set aside by a suspension, iam2's made after."""
    full = workflow.approve_after_suspension(agent, Dimension.IAM, Actor.for_user(staff))
    assert full.state == PackageState.APPROVED
    return full


@pytest.fixture
def files(approved_after_suspension, tmp_path) -> dict[str, bytes]:
    _, handle = package_evidence(actor=Actor.system("tests"), package=approved_after_suspension)
    path = tmp_path / "bundle.zip"
    path.write_bytes(handle.read())
    return read(path)


def verify(tmp_path, files, signoffs) -> str:
    forged = resign({**files, "signoffs.json": json.dumps(signoffs).encode()})
    result = run_verifier(
        write(tmp_path / "forged.zip", forged), "--fingerprint", signing.fingerprint()
    )
    assert result.returncode == 1, result.stdout
    return result.stdout


def iam_decisions(signoffs: list) -> list[dict]:
    return next(s for s in signoffs if s["dimension"] == "iam")["decisions"]


def test_the_bundle_marks_the_decision_set_aside_and_verifies(files, tmp_path):
    iam = iam_decisions(json.loads(files["signoffs.json"]))
    event = AuditEvent.objects.get(action=SIGNOFFS_REOPENED)
    assert [d["reviewer"] for d in iam] == ["iam1", "iam2"]
    assert iam[0]["set_aside_at"] == event.data["set_aside_at"]
    assert event.data["set_aside"] == {"iam": [iam[0]["id"]]}
    assert iam[1]["set_aside_at"] is None
    assert (
        f"Set aside by the agent's suspension at {iam[0]['set_aside_at']}: it does not count"
        in files["summary.html"].decode()
    )
    path = write(tmp_path / "as-made.zip", files)
    result = run_verifier(path, "--fingerprint", signing.fingerprint())
    assert result.returncode == 0, result.stdout
    assert "ok   approvals stand on decisions not set aside" in result.stdout


def test_a_set_aside_mark_removed_is_rejected(files, tmp_path):
    """The approval would seem to count twice: the event naming it says otherwise."""
    signoffs = json.loads(files["signoffs.json"])
    set_aside = iam_decisions(signoffs)[0]
    set_aside["set_aside_at"] = None
    out = verify(tmp_path, files, signoffs)
    assert f"decision {set_aside['id']}: differs from its event" in out
    assert "(set_aside_at)" in out


def test_a_set_aside_mark_added_is_rejected(files, tmp_path):
    """Marking the approval IAM stands on set aside: no event names it, and IAM stands on none."""
    signoffs = json.loads(files["signoffs.json"])
    standing = iam_decisions(signoffs)[1]
    standing["set_aside_at"] = iam_decisions(signoffs)[0]["set_aside_at"]
    out = verify(tmp_path, files, signoffs)
    assert f"decision {standing['id']}: differs from its event" in out
    assert (
        "FAIL approvals stand on decisions not set aside: iam is approved on 0 approval(s) "
        "not set aside, of 1 required"
    ) in out


def test_a_set_aside_moment_changed_is_rejected(files, tmp_path):
    signoffs = json.loads(files["signoffs.json"])
    set_aside = iam_decisions(signoffs)[0]
    set_aside["set_aside_at"] = set_aside["created_at"]
    out = verify(tmp_path, files, signoffs)
    assert f"decision {set_aside['id']}: differs from its event" in out


def test_eligibility_counts_no_decision_set_aside_before_the_moment(files):
    """iam1 could decide IAM again when iam2 did; the rule the bundle states says why."""
    eligibility = json.loads(files["eligibility.json"])
    iam = iam_decisions(json.loads(files["signoffs.json"]))
    rows = {row["decision"]: row for row in eligibility["decisions"]}
    assert rows[iam[1]["id"]]["eligible"] == ["iam1", "iam2"]
    assert "a decision a suspension had set aside by then does not count" in eligibility["rule"]
