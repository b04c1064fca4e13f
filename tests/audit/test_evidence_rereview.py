"""The evidence bundle of a targeted re-review records what re-opened, what carried over
and why, the review depth, and each sign-off's required items."""

import copy
import json

import pytest

from approvals.evidence import package_evidence
from approvals.ownership import agent_update
from audit import signing
from audit.actors import Actor
from tests.audit.test_evidence import read, run_verifier

pytestmark = pytest.mark.django_db


def test_the_bundle_records_the_targeted_review(workflow, agent, tmp_path):
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    second = workflow.submit(agent, doc)
    workflow.decide(second, "compliance")
    second.refresh_from_db()
    _, handle = package_evidence(actor=Actor.system("tests"), package=second)
    path = tmp_path / "targeted.zip"
    path.write_bytes(handle.read())
    files = read(path)
    package = json.loads(files["package.json"])["package"]
    assert package["review_plan"]["mode"] == "targeted"
    assert package["review_plan"]["changed_fields"] == ["rollback.plan"]
    assert package["review_plan"]["depth"]["rule"] == "full"
    signoffs = {s["dimension"]: s for s in json.loads(files["signoffs.json"])}
    assert signoffs["compliance"]["state"] == "approved"
    assert (
        signoffs["compliance"]["review_reason"]
        == "Re-opened: CMP-5 covers the rollback plan (rollback.plan)."
    )
    assert signoffs["iam"]["state"] == "carried_over"
    assert signoffs["iam"]["carried_over_from"]["package_version"] == 1
    assert signoffs["iam"]["carried_over_from"]["decisions"]
    assert "no item of the IAM checklist covers" in signoffs["iam"]["review_reason"]
    assert "IAM-1" in signoffs["iam"]["required_items"]
    items = {item["code"]: item for item in signoffs["compliance"]["checklist"]["items"]}
    assert items["CMP-5"]["covers"] == ["rollback.plan", "deployment"]
    summary = files["summary.html"].decode()
    assert (
        "Why this review: This version changes the rollback plan (rollback.plan) against v1."
        in summary
    )
    assert "no item of the IAM checklist covers" in summary
    assert run_verifier(path, "--fingerprint", signing.fingerprint()).returncode == 0


def test_the_bundle_says_why_an_owners_decision_did_not_carry_over(
    workflow, agent, owner, reviewers, tmp_path
):
    first = workflow.approve(agent)
    agent_update(actor=Actor.for_user(owner), agent=agent, owners=[owner, reviewers["security"][0]])
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    second = workflow.submit(agent, doc)
    _, handle = package_evidence(actor=Actor.system("tests"), package=second)
    path = tmp_path / "owner.zip"
    path.write_bytes(handle.read())
    files = read(path)
    reason = (
        "Re-opened: security1, who decided it in v1, owns the agent; its owners never sign "
        "off its packages."
    )
    signoffs = {s["dimension"]: s for s in json.loads(files["signoffs.json"])}
    assert signoffs["security"]["review_reason"] == reason
    assert signoffs["security"]["carried_over_from"] is None
    package = json.loads(files["package.json"])["package"]
    assert package["review_plan"]["reopened"]["security"] == reason
    assert f"Security: {reason}" in files["summary.html"].decode()
