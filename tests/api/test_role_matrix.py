"""Every transition endpoint × each role, in and out of scope: the exact status and audit trail.

Each role's token carries every scope its role grants (config.roles.SCOPE_GROUPS), so
a role refused a scope answers 403 before the agent is looked up.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from agents.observations import observations_record
from approvals.ownership import agent_update
from audit.actors import Actor
from tests.approvals.delegation import away
from tests.factories import DriftFindingFactory, manifest_for

pytestmark = pytest.mark.django_db

ROLES = ["owner", "other_owner", "iam", "security", "staff"]
BASE = "/api/v1/agents/support-assistant"


@pytest.fixture
def people(owner, other_owner, other_team_agent, reviewers, staff):
    return {
        "owner": owner,
        "other_owner": other_owner,
        "iam": reviewers["iam"][0],
        "security": reviewers["security"][0],
        "staff": staff,
    }


def _create(workflow, agent):
    return ("post", f"{BASE}/packages", manifest_for(agent))


def _submit(workflow, agent):
    workflow.create(agent)
    return ("post", f"{BASE}/packages/1/submit", {})


def _decide(workflow, agent):
    package = workflow.submit(agent)
    body = {"verdict": "approve", "answers": workflow.answers(package, "iam")}
    return ("post", f"{BASE}/packages/1/signoffs/iam/decisions", body)


def _decide_after_stepping_out(workflow, agent):
    """security1 owned the agent at submission, then left the owners: still never decides."""
    security = workflow.reviewers["security"][0]
    agent.owners.add(security)
    package = workflow.submit(agent)
    agent_update(actor=Actor.system("tests"), agent=agent, owners=[workflow.owner])
    body = {"verdict": "approve", "answers": workflow.answers(package, "security")}
    return ("post", f"{BASE}/packages/1/signoffs/security/decisions", body)


def _suspend(workflow, agent):
    return ("post", f"{BASE}/suspend", {"reason": "Incident 42."})


def _acknowledge(workflow, agent):
    finding = DriftFindingFactory(agent=agent)
    return ("post", f"{BASE}/findings/{finding.pk}/acknowledge", {"note": "Looking."})


def _resolve(workflow, agent):
    finding = DriftFindingFactory(agent=agent)
    return ("post", f"{BASE}/findings/{finding.pk}/resolve", {"resolution": "Tool removed."})


def _update(workflow, agent):
    return ("patch", BASE, {"description": "Changed."})


def _observe(workflow, agent):
    item = {"kind": "tool", "identifier": "prod-db-admin-console", "access": "admin"}
    return ("post", f"{BASE}/observations", {"items": [item]})


def _narrow(workflow, agent):
    """Narrow an approval of which only ticket.create was used lately."""
    workflow.approve(agent)
    item = {"kind": "action", "identifier": "ticket.create", "access": "write"}
    observations_record(actor=Actor.system("tests"), agent=agent, items=[item])
    return ("post", f"{BASE}/narrow", {})


def _owners_in_review(workflow, agent):
    """Make the reviewers owners while a package is in review: refused for everyone."""
    workflow.submit(agent)
    return ("patch", BASE, {"owners": ["owner", "security2", "iam2"]})


def _product_owner_joins_in_review(workflow, agent):
    workflow.submit(agent)
    return ("patch", BASE, {"owners": ["owner", "other-owner"]})


def _register_for_people(workflow, agent):
    """Register an agent for team people, of which only other-owner is a member."""
    body = {
        "slug": "people-bot",
        "name": "People bot",
        "team": "people",
        "workload_id": "spiffe://prod.example.com/ns/people/sa/people-bot",
        "log_principal": "agent:people-bot",
        "deployment": "internal_copilot",
    }
    return ("post", "/api/v1/agents", body)


def _comment(workflow, agent):
    workflow.submit(agent)
    return ("post", f"{BASE}/packages/1/comments", {"body": "Why refunds write?"})


def _answer_decision(workflow, agent):
    """Answer a decision that requested changes: in the decision's thread."""
    package = workflow.submit(agent)
    decision = workflow.decide(package, "pam", verdict="request_changes", comment="Cap refunds.")
    body = {"body": "Capped in v2.", "decision": decision.pk}
    return ("post", f"{BASE}/packages/1/comments", body)


def _emergency_request(workflow, agent):
    workflow.submit(agent)
    return ("post", f"{BASE}/packages/1/emergency", {"reason": "Incident 42 fix."})


def _emergency_approve(workflow, agent):
    from approvals.emergency import emergency_request

    package = workflow.submit(agent)
    emergency_request(actor=Actor.for_user(workflow.owner), package=package, reason="Urgent.")
    return ("post", f"{BASE}/packages/1/emergency/approvals", {"dimension": "security"})


def _retire(workflow, agent):
    workflow.approve(agent)
    return ("post", f"{BASE}/retire", {"reason": "Replaced by the new assistant."})


def _absence_set(workflow, agent):
    ends = (timezone.now() + timedelta(days=3)).isoformat()
    return ("post", "/api/v1/absences", {"dimension": "iam", "delegate": "iam2", "ends_at": ends})


def _absence_clear(workflow, agent):
    iam1, iam2 = workflow.reviewers["iam"]
    absence = away(iam1, iam2, "iam", since=timedelta(0), until=timedelta(days=3))
    return ("delete", f"/api/v1/absences/{absence.pk}", None)


def _decide_as_delegate(workflow, agent):
    """iam2 is the agent's assigned IAM reviewer, away; iam1 decides on their behalf."""
    iam1, iam2 = workflow.reviewers["iam"]
    assign_perm("agents.review_iam", iam2, agent)
    away(iam2, iam1, "iam", since=timedelta(hours=1), until=timedelta(days=3))
    return _decide(workflow, agent)


def _reassign(workflow, agent):
    workflow.submit(agent)
    body = {"user": "iam2", "reason": "iam1 is on leave."}
    return ("post", f"{BASE}/packages/1/signoffs/iam/reassign", body)


# endpoint -> (setup, audit action on success, {role: status})
MATRIX = {
    "package_create": (
        _create,
        "package.created",
        {"owner": 201, "other_owner": 404, "iam": 403, "security": 403, "staff": 201},
    ),
    "package_submit": (
        _submit,
        "package.submitted",
        {"owner": 200, "other_owner": 404, "iam": 403, "security": 403, "staff": 200},
    ),
    "signoff_decide": (
        _decide,
        "signoff.decided",
        {"owner": 403, "other_owner": 403, "iam": 201, "security": 403, "staff": 403},
    ),
    "signoff_decide_former_owner": (
        _decide_after_stepping_out,
        "signoff.decided",
        {"owner": 403, "other_owner": 403, "iam": 403, "security": 403, "staff": 403},
    ),
    "agent_suspend": (
        _suspend,
        "agent.suspended",
        {"owner": 403, "other_owner": 403, "iam": 403, "security": 200, "staff": 200},
    ),
    "finding_acknowledge": (
        _acknowledge,
        "drift.acknowledged",
        {"owner": 403, "other_owner": 403, "iam": 403, "security": 200, "staff": 200},
    ),
    "finding_resolve": (
        _resolve,
        "drift.resolved",
        {"owner": 403, "other_owner": 403, "iam": 403, "security": 200, "staff": 200},
    ),
    "agent_update": (
        _update,
        "agent.updated",
        {"owner": 200, "other_owner": 404, "iam": 403, "security": 403, "staff": 200},
    ),
    "agent_update_owners_in_review": (
        _owners_in_review,
        "agent.updated",
        {"owner": 400, "other_owner": 404, "iam": 403, "security": 403, "staff": 400},
    ),
    "agent_update_product_owner_joins": (
        _product_owner_joins_in_review,
        "agent.updated",
        {"owner": 200, "other_owner": 404, "iam": 403, "security": 403, "staff": 200},
    ),
    "agent_create_for_a_team": (
        _register_for_people,
        "agent.created",
        {"owner": 400, "other_owner": 201, "iam": 403, "security": 403, "staff": 201},
    ),
    # Whoever may see the agent comments on its packages.
    "comment_create": (
        _comment,
        "comment.created",
        {"owner": 201, "other_owner": 404, "iam": 201, "security": 201, "staff": 201},
    ),
    "comment_answer_decision": (
        _answer_decision,
        "comment.created",
        {"owner": 201, "other_owner": 404, "iam": 201, "security": 201, "staff": 201},
    ),
    "emergency_request": (
        _emergency_request,
        "emergency.requested",
        {"owner": 201, "other_owner": 404, "iam": 403, "security": 403, "staff": 201},
    ),
    "emergency_approve": (
        _emergency_approve,
        "emergency.approved",
        {"owner": 403, "other_owner": 403, "iam": 403, "security": 200, "staff": 403},
    ),
    "agent_retire": (
        _retire,
        "agent.retired",
        {"owner": 200, "other_owner": 404, "iam": 403, "security": 403, "staff": 200},
    ),
    # A reviewer sets their own absence; staff, in no reviewer group, have no dimension to leave.
    "absence_set": (
        _absence_set,
        "absence.set",
        {"owner": 403, "other_owner": 403, "iam": 201, "security": 400, "staff": 400},
    ),
    "absence_clear": (
        _absence_clear,
        "absence.cleared",
        {"owner": 403, "other_owner": 403, "iam": 204, "security": 404, "staff": 204},
    ),
    "signoff_decide_as_delegate": (
        _decide_as_delegate,
        "signoff.decided",
        {"owner": 403, "other_owner": 403, "iam": 201, "security": 403, "staff": 403},
    ),
    "signoff_reassign": (
        _reassign,
        "signoff.reassigned",
        {"owner": 403, "other_owner": 403, "iam": 403, "security": 403, "staff": 200},
    ),
    # Owners (and staff, who write any agent's packages) narrow to what was used.
    "package_narrow": (
        _narrow,
        "package.narrowed",
        {"owner": 201, "other_owner": 404, "iam": 403, "security": 403, "staff": 201},
    ),
    # Only the agent's owners or a token bound to it report what it used (staff neither).
    "observations_record": (
        _observe,
        "observations.recorded",
        {"owner": 202, "other_owner": 404, "iam": 403, "security": 403, "staff": 403},
    ),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_role_matrix(api, people, workflow, agent, audit_since, endpoint, role):
    setup, action, expected = MATRIX[endpoint]
    method, path, body = setup(workflow, agent)
    client = api(people[role])
    since = audit_since()
    response = getattr(client, method)(path, body, format="json")
    assert response.status_code == expected[role], response.content
    events = [e for e in since() if e.action == action]
    if response.status_code < 300:
        assert len(events) == 1
        assert events[0].actor_label == people[role].username
        assert events[0].token_label.startswith(f"token:{client.token.prefix}")
    else:
        assert since() == []
