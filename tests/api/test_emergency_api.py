"""Emergency release and retirement through the API, and what CI's gate check then answers."""

import pytest

from tests.factories import manifest_for

pytestmark = pytest.mark.django_db

BASE = "/api/v1/agents/support-assistant"
GATE = "/api/v1/gate/check"


def test_asked_approved_and_allowed_at_the_gate_with_its_reason(
    api, ci, workflow, agent, reviewers, owner
):
    workflow.approve(agent)
    second = workflow.create(agent, manifest_for(agent, rollback={"plan": "Second."}))
    asking = api(owner)
    refused = asking.post(f"{BASE}/packages/2/emergency", {"reason": ""}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()["error"]["fields"]
    asked = asking.post(f"{BASE}/packages/2/emergency", {"reason": "Incident 42."}, format="json")
    assert asked.status_code == 201, asked.json()
    assert asked.json()["state"] == "requested" and asked.json()["requested_by"] == "owner"
    again = asking.post(f"{BASE}/packages/2/emergency", {"reason": "Again."}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "emergency_exists")
    wrong = api(reviewers["security"][0]).post(
        f"{BASE}/packages/2/emergency/approvals", {"dimension": "iam"}, format="json"
    )
    assert wrong.status_code == 400 and "dimension" in wrong.json()["error"]["fields"]
    for dimension in ("security", "pam"):
        given = api(reviewers[dimension][0]).post(
            f"{BASE}/packages/2/emergency/approvals", {"dimension": dimension}, format="json"
        )
        assert given.status_code == 200, given.json()
    emergency = asking.get(f"{BASE}/packages/2/emergency").json()
    assert emergency["state"] == "active" and emergency["is_open"] is True
    assert (emergency["security_approver"], emergency["pam_approver"]) == ("security1", "pam1")
    second.refresh_from_db()
    answer = ci.post(GATE, {"agent": agent.slug, "digest": second.digest}, format="json").json()
    assert answer["decision"] == "allow" and answer["package_version"] == 2
    assert [r["code"] for r in answer["reasons"]] == ["emergency_approval"]
    # The end of the time box, written as the emergency endpoint writes it.
    assert answer["expires_at"] == emergency["ends_at"]


def test_a_retired_agent_is_denied_at_the_gate_and_takes_no_new_version(
    api, ci, workflow, agent, owner
):
    approved = workflow.approve(agent)
    client = api(owner)
    retired = client.post(f"{BASE}/retire", {"reason": "Replaced."}, format="json")
    assert retired.status_code == 200, retired.json()
    assert retired.json()["status"] == "retired" and retired.json()["retired_reason"] == "Replaced."
    answer = ci.post(GATE, {"agent": agent.slug, "digest": approved.digest}, format="json").json()
    assert answer["decision"] == "deny" and [r["code"] for r in answer["reasons"]] == [
        "agent_retired",
        "no_approved_package",
    ]
    created = client.post(f"{BASE}/packages", manifest_for(agent), format="json")
    assert (created.status_code, created.json()["error"]["code"]) == (409, "agent_retired")
    again = client.post(f"{BASE}/retire", {"reason": "Again."}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "already_retired")
    # Its history stays readable.
    assert client.get(f"{BASE}/packages/1").json()["state"] == "revoked"
