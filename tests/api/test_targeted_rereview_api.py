"""A new version submitted over the API re-opens only the dimensions its changes concern;
the answer says which, why, and which items each open sign-off requires."""

import pytest

from approvals.ownership import agent_update
from audit.actors import Actor
from tests.factories import manifest_for
from tokens.models import Scope

pytestmark = pytest.mark.django_db


def packages(slug="support-assistant"):
    return f"/api/v1/agents/{slug}/packages"


@pytest.fixture
def writer(api, owner, checklists):
    return api(owner, Scope.PACKAGES_WRITE, Scope.AGENTS_READ)


def test_submitting_a_new_version_reopens_what_its_changes_concern(writer, workflow, agent):
    workflow.approve(agent)
    doc = manifest_for(agent)
    doc["logging"]["retention_days"] = 30
    created = writer.post(packages(), doc, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["review_plan"] is None  # fixed at submission
    response = writer.post(f"{packages()}/2/submit", {}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["state"] == "in_review"
    signoffs = {s["dimension"]: s for s in body["signoffs"]}
    assert {d: s["state"] for d, s in signoffs.items()} == {
        "iam": "carried_over",
        "pam": "carried_over",
        "security": "carried_over",
        "compliance": "pending",
    }
    assert signoffs["compliance"]["review_reason"] == (
        "Re-opened: CMP-2 covers the log retention (logging.retention_days)."
    )
    assert signoffs["iam"]["carried_over"] is True
    assert "no item of the IAM checklist covers" in signoffs["iam"]["review_reason"]
    assert signoffs["compliance"]["required_items"] == [f"CMP-{n}" for n in range(1, 8)]
    plan = body["review_plan"]
    assert plan["mode"] == "targeted"
    assert plan["changed_fields"] == ["logging.retention_days"]
    assert set(plan["carried_over"]) == {"iam", "pam", "security"}
    assert plan["depth"]["rule"] == "full"
    detail = writer.get(f"{packages()}/2").json()
    assert detail["review_plan"] == plan


def test_a_decision_an_owner_made_reopens_over_the_api_with_its_reason(
    writer, workflow, agent, owner, reviewers
):
    workflow.approve(agent)
    agent_update(actor=Actor.for_user(owner), agent=agent, owners=[owner, reviewers["pam"][0]])
    doc = manifest_for(agent)
    doc["logging"]["retention_days"] = 30
    writer.post(packages(), doc, format="json")
    body = writer.post(f"{packages()}/2/submit", {}, format="json").json()
    reason = (
        "Re-opened: pam1, who decided it in v1, owns the agent; its owners never sign off "
        "its packages."
    )
    signoffs = {s["dimension"]: s for s in body["signoffs"]}
    assert (signoffs["pam"]["state"], signoffs["pam"]["carried_over"]) == ("pending", False)
    assert signoffs["pam"]["review_reason"] == reason
    assert body["review_plan"]["reopened"]["pam"] == reason
    assert set(body["review_plan"]["carried_over"]) == {"iam", "security"}


def test_a_kill_switch_change_over_the_api_reopens_all_four(writer, workflow, agent):
    workflow.approve(agent)
    doc = manifest_for(agent)
    doc["kill_switch"]["owner"] = "platform-oncall"
    writer.post(packages(), doc, format="json")
    body = writer.post(f"{packages()}/2/submit", {}, format="json").json()
    assert {s["state"] for s in body["signoffs"]} == {"pending"}
    assert body["review_plan"]["mode"] == "full"
    assert body["review_plan"]["carried_over"] == {}
