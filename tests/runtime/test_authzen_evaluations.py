"""POST /access/v1/evaluations: defaults, per-entry overrides, the three semantics, entry errors."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.runtime.conftest import EVALUATIONS

pytestmark = pytest.mark.django_db


def post(client, body):
    response = client.post(EVALUATIONS, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_defaults_and_overrides(approved, agent, gateway):
    answer = post(
        gateway,
        {
            "subject": {"type": "agent", "id": agent.slug},
            "action": {"name": "read"},
            "context": {"chain_depth": 1},
            "evaluations": [
                {"resource": {"type": "tool", "id": "kb-search"}},
                {"resource": {"type": "tool", "id": "zendesk"}, "action": {"name": "write"}},
                {"resource": {"type": "tool", "id": "kb-search"}, "action": {"name": "write"}},
                {"resource": {"type": "tool", "id": "kb-search"}, "context": {"chain_depth": 9}},
                {
                    "resource": {"type": "tool", "id": "kb-search"},
                    "subject": {"type": "agent", "id": "nobody"},
                },
            ],
        },
    )
    assert answer == {
        "evaluations": [
            {"decision": True},
            {"decision": True},
            {
                "decision": False,
                "context": {"reason": "scope_mismatch", "reasons": ["scope_mismatch"]},
            },
            {
                "decision": False,
                "context": {"reason": "scope_mismatch", "reasons": ["scope_mismatch"]},
            },
            {
                "decision": False,
                "context": {"reason": "unknown_agent", "reasons": ["unknown_agent"]},
            },
        ]
    }


def test_an_entry_that_cannot_be_read_is_a_deny_with_its_error(approved, agent, gateway):
    answer = post(
        gateway,
        {
            "subject": {"type": "agent", "id": agent.slug},
            "evaluations": [
                {"resource": {"type": "tool", "id": "kb-search"}},
                {"action": {"name": "read"}, "resource": {"type": "tool", "id": "kb-search"}},
                {"action": {"name": "read"}, "resource": {"type": "tool"}},
            ],
        },
    )
    first, second, third = answer["evaluations"]
    assert first["decision"] is False and first["context"]["error"] == {
        "status": 400,
        "message": "evaluations[0]: action is required.",
    }
    assert second == {"decision": True}
    assert third["context"]["error"]["message"].startswith("evaluations[2]: resource.id is")


SEMANTIC_BODY = {
    "action": {"name": "read"},
    "evaluations": [
        {"resource": {"type": "tool", "id": "kb-search"}},
        {"resource": {"type": "tool", "id": "shell"}},
        {"resource": {"type": "tool", "id": "zendesk"}},
    ],
}


@pytest.mark.parametrize(
    ("semantic", "decisions"),
    [
        (None, [True, False, True]),
        ("execute_all", [True, False, True]),
        ("deny_on_first_deny", [True, False]),
        ("permit_on_first_permit", [True]),
    ],
)
def test_evaluation_semantics(approved, agent, gateway, semantic, decisions):
    body = {**SEMANTIC_BODY, "subject": {"type": "agent", "id": agent.slug}}
    if semantic:
        body["options"] = {"evaluations_semantic": semantic}
    answer = post(gateway, body)
    assert [entry["decision"] for entry in answer["evaluations"]] == decisions


def test_without_evaluations_it_answers_one_evaluation(approved, agent, gateway):
    body = {
        "subject": {"type": "agent", "id": agent.slug},
        "action": {"name": "read"},
        "resource": {"type": "tool", "id": "kb-search"},
        "evaluations": [],
    }
    assert post(gateway, body) == {"decision": True}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"evaluations": {}}, "evaluations must be an array."),
        ({"evaluations": [{}], "options": {"evaluations_semantic": "any"}}, "evaluations_semantic"),
        ({"evaluations": [{}], "options": []}, "options must be an object."),
        ({"evaluations": [{}, "x"]}, "evaluations[1] must be an object."),
        ({"evaluations": [{}], "subject": {"type": ["agent"], "id": "a"}}, "subject.type"),
        ({"evaluations": [{}], "context": {"chain_depth": "deep"}}, "context.chain_depth"),
        ({"evaluations": [{}], "context": None}, "context must be an object."),
        ({"evaluations": [{}] * 1001}, "At most 1000 evaluations"),
        ({}, "subject is required."),
    ],
)
def test_an_unreadable_batch_is_400(gateway, body, message):
    response = gateway.post(EVALUATIONS, body, format="json")
    assert response.status_code == 400
    assert message in response.json()


def test_a_batch_reads_each_agent_once(approved, agent, gateway):
    body = {
        "subject": {"type": "agent", "id": agent.slug},
        "action": {"name": "read"},
        "evaluations": [{"resource": {"type": "tool", "id": f"tool-{n}"}} for n in range(100)],
    }
    post(gateway, body)  # the token's last use is recorded
    with CaptureQueriesContext(connection) as queries:
        answer = post(gateway, body)
    assert len(answer["evaluations"]) == 100
    assert len(queries) == 2  # the token with its user, the decision row
