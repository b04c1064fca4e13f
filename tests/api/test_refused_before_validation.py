"""A write the rules refuse the caller answers the same 403 whatever the body, before reading it.

Each caller here sees the agent (a member of its team, a reviewer, a compliance
officer, an owner) but may not make the request. Its answer to a body that cannot
be read, to one with field errors and to a valid one is the same refusal, with the
code the service gives, and nothing is audited.
"""

import json

import pytest
from guardian.shortcuts import assign_perm
from rest_framework.test import APIClient

from tests.api.conftest import error_of
from tests.factories import DriftFindingFactory, UserFactory, manifest_for

pytestmark = pytest.mark.django_db

AGENT = "/api/v1/agents/support-assistant"
PACKAGE = f"{AGENT}/packages/1"
UNREADABLE = '{"reason": '

# endpoint: (method, path, a body with field errors, a valid body); {finding} is its id.
ENDPOINTS = {
    "register": (
        "post",
        "/api/v1/agents",
        {"slug": "Not A Slug!"},
        {
            "slug": "claims-bot",
            "name": "Claims bot",
            "team": "customer-care",
            "workload_id": "spiffe://prod.example.com/ns/claims/sa/claims-bot",
            "log_principal": "agent:claims-bot",
            "deployment": "internal_copilot",
        },
    ),
    "observations": (
        "post",
        f"{AGENT}/observations",
        {"items": []},
        {"items": [{"kind": "tool", "identifier": "kb-search", "access": "read"}]},
    ),
    "change": ("patch", AGENT, {"name": ""}, {"description": "Answers refunds."}),
    "create-package": ("post", f"{AGENT}/packages", {"manifest_yaml": 5}, "manifest"),
    "decide": (
        "post",
        f"{PACKAGE}/signoffs/iam/decisions",
        {"verdict": "maybe"},
        {"verdict": "request_changes", "comment": "Narrow it."},
    ),
    "suspend": ("post", f"{AGENT}/suspend", {}, {"reason": "Incident 42."}),
    "acknowledge": (
        "post",
        f"{AGENT}/findings/{{finding}}/acknowledge",
        {"note": ["Seen."]},
        {"note": "Seen."},
    ),
    "resolve": ("post", f"{AGENT}/findings/{{finding}}/resolve", {}, {"resolution": "Gone."}),
    "reassign": (
        "post",
        f"{PACKAGE}/signoffs/iam/reassign",
        {"user": ""},
        {"user": "iam1", "reason": "Away."},
    ),
    "emergency": ("post", f"{PACKAGE}/emergency", {}, {"reason": "Refunds fail."}),
    "retire": ("post", f"{AGENT}/retire", {"reason": ""}, {"reason": "Replaced."}),
    "narrow": ("post", f"{AGENT}/narrow", [], {}),
}

# (endpoint, caller, the refusal's code); callers ending in -token send a token of theirs.
REFUSED = [
    ("register", "teammate", "not_product_owner"),
    ("register", "officer", "not_product_owner"),
    ("observations", "teammate", "not_owner"),
    ("observations", "colleague-token", "not_owner"),
    ("change", "teammate", "not_owner"),
    ("change", "colleague-token", "not_owner"),
    ("create-package", "teammate", "not_owner"),
    ("create-package", "colleague-token", "not_owner"),
    ("decide", "teammate", "not_reviewer"),
    ("decide", "officer", "not_reviewer"),
    ("decide", "owner", "not_reviewer"),
    ("decide", "pam", "not_reviewer"),
    ("decide", "pam-token", "not_reviewer"),
    ("decide", "iam2", "not_assigned"),
    ("suspend", "teammate", "not_permitted"),
    ("suspend", "owner", "not_permitted"),
    ("suspend", "iam2-token", "not_permitted"),
    ("acknowledge", "owner", "not_security"),
    ("acknowledge", "iam2-token", "not_security"),
    ("resolve", "iam2", "not_security"),
    ("reassign", "iam2", "not_staff"),
    ("reassign", "pam-token", "not_staff"),
    ("emergency", "teammate", "not_owner"),
    ("emergency", "colleague-token", "not_owner"),
    ("retire", "teammate", "not_owner"),
    ("retire", "colleague-token", "not_owner"),
    ("narrow", "teammate", "not_owner"),
    ("narrow", "colleague-token", "not_owner"),
]


@pytest.fixture
def world(workflow, agent, owner, reviewers, api):
    """Version 1 in review (its IAM sign-off assigned to iam1), a finding; the callers' clients."""
    assign_perm("agents.review_iam", reviewers["iam"][0], agent)
    package = workflow.submit(agent)
    finding = DriftFindingFactory(agent=agent, package=package)
    teammate = UserFactory(username="teammate")
    colleague = UserFactory(username="colleague", groups=["product-owner"])
    agent.team.members.add(teammate, colleague)
    people = {
        "teammate": teammate,
        "officer": UserFactory(username="officer", groups=["compliance-officer"]),
        "owner": owner,
        "pam": reviewers["pam"][1],
        "iam2": reviewers["iam"][1],
    }
    clients = {}
    for name, user in people.items():
        clients[name] = APIClient()
        clients[name].force_login(user)
    for name, user in {"colleague": colleague, **people}.items():
        clients[f"{name}-token"] = api(user)
    return clients, {"finding": finding.pk}, manifest_for(agent)


@pytest.mark.parametrize(("endpoint", "caller", "code"), REFUSED)
def test_a_refused_caller_meets_the_refusal_whatever_the_body(
    world, audit_since, endpoint, caller, code
):
    clients, ids, manifest = world
    method, path, invalid, valid = ENDPOINTS[endpoint]
    url = path.format(**ids)
    since = audit_since()
    answers = []
    for body in (
        UNREADABLE,
        json.dumps(invalid),
        json.dumps(manifest if valid == "manifest" else valid),
    ):
        response = clients[caller].generic(
            method.upper(), url, body, content_type="application/json"
        )
        answers.append((response.status_code, error_of(response)))
    assert answers[0][0] == 403, answers
    assert answers[0][1]["code"] == code
    assert answers[1:] == answers[:1] * 2
    assert since() == []
