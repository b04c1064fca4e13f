"""The OpenAPI schema documents the decision point and the policy export."""

import pytest
import yaml

from runtime.api.schema import EVALUATION_REQUEST, EVALUATIONS_REQUEST

pytestmark = pytest.mark.django_db


def test_the_schema_lists_the_runtime_operations(client):
    schema = yaml.safe_load(client.get("/api/v1/schema/").content)
    paths = schema["paths"]
    evaluation = paths["/access/v1/evaluation"]["post"]
    assert evaluation["operationId"] == "access_evaluation"
    assert set(evaluation["responses"]) >= {"200", "400", "401", "403", "429"}
    assert evaluation["requestBody"]["required"] is True
    throttled = evaluation["responses"]["429"]["content"]["application/json"]["schema"]
    assert throttled == {"type": "string"}
    assert evaluation["requestBody"]["content"]["application/json"]["schema"] == (
        EVALUATION_REQUEST
    )
    assert evaluation["responses"]["401"]["content"]["application/json"]["schema"] == {
        "type": "string"
    }
    decision = schema["components"]["schemas"]["AccessDecision"]
    assert decision["properties"]["decision"]["type"] == "boolean"
    batch = paths["/access/v1/evaluations"]["post"]
    assert batch["operationId"] == "access_evaluations"
    assert batch["requestBody"]["required"] is True
    assert set(batch["responses"]) >= {"200", "400", "401", "403", "429"}
    body = batch["requestBody"]["content"]["application/json"]["schema"]
    assert body == EVALUATIONS_REQUEST
    assert body["properties"]["options"]["properties"]["evaluations_semantic"]["enum"] == [
        "execute_all",
        "deny_on_first_deny",
        "permit_on_first_permit",
    ]
    assert "get" in paths["/.well-known/authzen-configuration"]
    policy = paths["/api/v1/agents/{slug}/policy"]["get"]
    assert set(policy["responses"]) >= {"200", "304", "401", "403", "404"}
    assert "X-Countersign-Signature" in policy["description"]


@pytest.mark.parametrize("download", ["", "1", "signature"])
def test_the_policy_answers_in_a_media_type_its_schema_lists(
    client, approved, agent, gateway, download
):
    policy = yaml.safe_load(client.get("/api/v1/schema/").content)["paths"][
        "/api/v1/agents/{slug}/policy"
    ]["get"]
    assert "download" in {parameter["name"] for parameter in policy["parameters"]}
    response = gateway.get(f"/api/v1/agents/{agent.slug}/policy", {"download": download})
    assert response.status_code == 200
    assert response["Content-Type"] in policy["responses"]["200"]["content"]
