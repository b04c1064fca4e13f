"""Under an emergency approval the decision point and the Cedar bundle answer as the gate does.

Inside the time box the emergency version's scope is allowed (the approved
version's too, which the gate still lets ship); after it, a use only the
emergency version holds is denied with `emergency_expired`.
"""

import json
import time
from datetime import timedelta

import cedarpy
import pytest
from django.utils import timezone

from approvals.gate import gate_check
from approvals.models import EmergencyApproval
from approvals.services import agent_suspend
from audit.actors import Actor
from runtime.cedar import cedar_request
from runtime.requests import Evaluation
from tests.approvals.emergency import emergency_grant
from tests.factories import manifest_for
from tests.runtime.conftest import ask

pytestmark = pytest.mark.django_db
CI = Actor.system("ci")
NEW_TOOL = {"id": "refund-issue-2", "access": "write", "justification": "The incident's fix."}


def wider(agent) -> dict:
    doc = manifest_for(agent)
    doc["scope"]["tools"].append(dict(NEW_TOOL))
    return doc


def decision(client, agent, action, ident):
    response = ask(client, agent.slug, action, "tool", ident)
    assert response.status_code == 200, response.content
    return response.json()


def cedar_allows(bundle, action, ident, now=None):
    evaluation = Evaluation("agent", bundle["agent"], action, "tool", ident, {})
    request = cedar_request(evaluation, bundle, now or int(time.time()))
    return cedarpy.is_authorized(
        request, bundle["policies"], bundle["entities"], schema=bundle["schema"]
    ).allowed


def fetched_bundle(client, agent):
    return json.loads(client.get(f"/api/v1/agents/{agent.slug}/policy").content)


def box_ends(emergency):
    EmergencyApproval.objects.filter(pk=emergency.pk).update(
        ends_at=timezone.now() - timedelta(minutes=1)
    )


def gate_codes(agent, package):
    result = gate_check(actor=CI, agent_slug=agent.slug, digest=package.digest)
    return result.decision, [reason["code"] for reason in result.reasons]


def test_inside_the_box_all_three_allow_the_emergency_scope_and_after_it_deny(
    workflow, agent, approved, gateway
):
    second = workflow.submit(agent, wider(agent))
    emergency = emergency_grant(workflow, second)
    assert gate_codes(agent, second) == ("allow", ["emergency_approval"])
    assert decision(gateway, agent, "write", "refund-issue-2") == {"decision": True}
    # What the approved version holds stays allowed, as the gate lets it ship too.
    assert decision(gateway, agent, "read", "kb-search") == {"decision": True}
    outside = decision(gateway, agent, "read", "shell")
    assert outside["context"]["reasons"] == ["scope_mismatch"]

    bundle = fetched_bundle(gateway, agent)
    assert bundle["decision"] == "allow" and bundle["digest"] == approved.digest
    assert bundle["emergency"] == {
        "package_version": second.version,
        "digest": second.digest,
        "ends_at": emergency.ends_at.isoformat(),
        "ends_epoch": int(emergency.ends_at.timestamp()),
        "decision": "allow",
        "reasons": [],
    }
    assert '@id("emergency:v2:tool:refund-issue-2")' in bundle["policies"]
    validation = cedarpy.validate_policies(bundle["policies"], bundle["schema"])
    assert validation.validation_passed, [str(error) for error in validation.errors]
    assert cedar_allows(bundle, "write", "refund-issue-2")
    assert cedar_allows(bundle, "read", "kb-search")
    assert not cedar_allows(bundle, "read", "shell")
    # A bundle a gateway holds stops permitting the emergency scope at the box's end.
    ends = bundle["emergency"]["ends_epoch"]
    assert not cedar_allows(bundle, "write", "refund-issue-2", now=ends)
    assert cedar_allows(bundle, "read", "kb-search", now=ends)

    box_ends(emergency)
    assert gate_codes(agent, second) == ("deny", ["emergency_expired"])
    denied = decision(gateway, agent, "write", "refund-issue-2")
    assert denied == {
        "decision": False,
        "context": {"reason": "emergency_expired", "reasons": ["emergency_expired"]},
    }
    assert decision(gateway, agent, "read", "kb-search") == {"decision": True}
    after = fetched_bundle(gateway, agent)
    assert after["emergency"]["decision"] == "deny"
    assert after["emergency"]["reasons"] == ["emergency_expired"]
    assert "emergency:" not in after["policies"]
    assert not cedar_allows(after, "write", "refund-issue-2", now=ends - 60)
    assert cedar_allows(after, "read", "kb-search")


def test_a_first_version_on_an_emergency_is_allowed_then_denied(workflow, agent, gateway):
    package = workflow.submit(agent)
    emergency = emergency_grant(workflow, package)
    assert decision(gateway, agent, "read", "kb-search") == {"decision": True}
    unknown = decision(gateway, agent, "read", "shell")
    assert unknown["context"]["reasons"] == ["no_approved_package"]
    bundle = fetched_bundle(gateway, agent)
    assert bundle["decision"] == "allow" and bundle["digest"] is None
    assert cedar_allows(bundle, "read", "kb-search")

    box_ends(emergency)
    expired = decision(gateway, agent, "read", "kb-search")
    assert expired["context"]["reasons"] == ["emergency_expired"]
    after = fetched_bundle(gateway, agent)
    assert (after["decision"], after["reasons"]) == ("deny", ["no_approved_package"])
    assert not cedar_allows(after, "read", "kb-search")


def test_a_suspension_denies_the_emergency_scope_too(workflow, agent, approved, gateway, staff):
    emergency_grant(workflow, workflow.submit(agent, wider(agent)))
    agent_suspend(actor=Actor.for_user(staff), agent=agent, reason="Incident 43.")
    denied = decision(gateway, agent, "write", "refund-issue-2")
    assert denied["context"]["reasons"] == ["agent_suspended"]
    bundle = fetched_bundle(gateway, agent)
    assert bundle["decision"] == "deny" and "permit" not in bundle["policies"]
