"""The release gate denies for every reason, and never allows an expanded scope."""

import copy
from datetime import timedelta

import pytest
from django.utils import timezone

from approvals import manifest as manifests
from approvals.gate import ALLOW, DENY, gate_check
from approvals.models import ApprovalPackage
from approvals.services import agent_suspend, package_expire
from audit.actors import Actor
from tests.factories import DriftFindingFactory, manifest_for

pytestmark = pytest.mark.django_db
CI = Actor.system("ci")


def check(agent_slug, manifest=None, digest=None):
    doc = manifests.load_manifest(manifest) if manifest is not None else None
    return gate_check(actor=CI, agent_slug=agent_slug, manifest=doc, digest=digest)


def codes(result):
    return [reason["code"] for reason in result.reasons]


def test_unknown_agent(db):
    result = check("nobody", digest="0" * 64)
    assert (result.decision, codes(result)) == (DENY, ["unknown_agent"])


def test_no_approved_package(workflow, agent):
    workflow.submit(agent)
    result = check(agent.slug, manifest_for(agent))
    assert (result.decision, codes(result)) == (DENY, ["no_approved_package"])


def test_exact_scope_is_allowed_by_manifest_and_digest(workflow, agent, audit_since):
    package = workflow.approve(agent)
    since = audit_since()
    by_manifest = check(agent.slug, manifest_for(agent))
    by_digest = check(agent.slug, digest=package.digest)
    for result in (by_manifest, by_digest):
        assert result.decision == ALLOW, result.reasons
        assert result.package_version == package.version
        assert result.digest == package.digest
        assert result.expires_at == package.expires_at
    events = since()
    assert [e.action for e in events] == ["gate.checked", "gate.checked"]
    assert events[0].data["decision"] == ALLOW


def test_narrowed_scope_is_allowed(workflow, agent):
    workflow.approve(agent)
    doc = manifest_for(agent)
    doc["scope"]["datasets"].pop()
    doc["credentials"]["max_ttl_seconds"] = 300
    assert check(agent.slug, doc).decision == ALLOW


@pytest.mark.parametrize(
    "widen",
    [
        lambda d: d["scope"]["tools"].append({"id": "shell", "access": "execute"}),
        lambda d: d["scope"]["datasets"][0].update(access="write"),
        lambda d: d["scope"]["tools"][1].update(trust_boundary="third_party"),
        lambda d: d["scope"]["tools"][0].update(privileged=True),
        lambda d: d["credentials"].update(max_ttl_seconds=86400),
        lambda d: d["chaining"].update(max_depth=5),
        lambda d: d["model"].update(id="example-llm-huge-2027-01"),
        lambda d: d["model"].update(prompt_digest="sha256:" + "a" * 64),
        lambda d: d["scope"]["actions"][1]["constraints"].update(max_amount_eur=5000),
    ],
)
def test_every_expansion_is_denied_with_its_list(workflow, agent, widen):
    workflow.approve(agent)
    doc = manifest_for(agent)
    widen(doc)
    result = check(agent.slug, doc)
    assert result.decision == DENY
    assert codes(result) == ["scope_mismatch"]
    assert result.reasons[0]["expansions"]


def test_other_digest_is_denied(workflow, agent):
    workflow.approve(agent)
    result = check(agent.slug, digest="f" * 64)
    assert (result.decision, codes(result)) == (DENY, ["scope_mismatch"])


def test_expired_approval_is_denied_before_and_after_the_job(workflow, agent):
    package = workflow.approve(agent)
    expired = (timezone.now() - timedelta(minutes=1)).replace(microsecond=0)
    ApprovalPackage.objects.filter(pk=package.pk).update(expires_at=expired)
    assert codes(check(agent.slug, manifest_for(agent))) == ["approval_expired"]
    assert package_expire(actor=CI, package=package) is True
    result = check(agent.slug, manifest_for(agent))
    assert codes(result) == ["approval_expired"]
    # The instant it stopped, in the zone of the emergency approval's end: a date alone
    # leaves a pipeline to guess which part of that day it still had.
    assert result.reasons[0]["message"] == (
        f"The approval of v{package.version} expired on {expired:%Y-%m-%d %H:%M} UTC."
    )


def test_suspended_agent_is_denied(workflow, agent, reviewers):
    workflow.approve(agent)
    agent_suspend(actor=Actor.for_user(reviewers["security"][0]), agent=agent, reason="Incident")
    result = check(agent.slug, manifest_for(agent))
    assert result.decision == DENY
    assert "agent_suspended" in codes(result)


def test_open_critical_drift_is_denied(workflow, agent):
    package = workflow.approve(agent)
    DriftFindingFactory(agent=agent, package=package)
    assert codes(check(agent.slug, manifest_for(agent))) == ["open_critical_drift"]


def test_manifest_of_another_agent_cannot_pass_for_this_one(workflow, agent):
    workflow.approve(agent)
    doc = copy.deepcopy(manifest_for(agent))
    doc["scope"]["tools"].append({"id": "kubectl", "access": "admin"})
    assert check(agent.slug, doc).decision == DENY
