"""The OpenAPI schema documents the decision point and the policy export."""

import json

import jsonschema
import pytest
import yaml
from django.conf import settings as dj_settings
from django.db import connection
from django.test import Client, override_settings

from runtime.api.schema import EVALUATION_REQUEST, EVALUATIONS_REQUEST
from tests.runtime.conftest import EVALUATION, EVALUATIONS
from tokens.models import Scope

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


def _oversized(api, staff, url, body):
    padded = json.dumps({**body, "pad": "x" * dj_settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    return api(staff, Scope.DECISIONS_EVALUATE).post(url, padded, content_type="application/json")


def _bad_json(api, staff, url, body):
    return api(staff, Scope.DECISIONS_EVALUATE).post(url, "{", content_type="application/json")


def _no_credential(api, staff, url, body):
    return Client().post(url, body, content_type="application/json")


def _wrong_credential(api, staff, url, body):
    client = Client(HTTP_AUTHORIZATION="Bearer cs_not_a_token")
    return client.post(url, body, content_type="application/json")


def _no_scope(api, staff, url, body):
    return api(staff, Scope.AGENTS_READ).post(url, body, format="json")


def _unacceptable(api, staff, url, body):
    client = api(staff, Scope.DECISIONS_EVALUATE)
    return client.post(url, body, format="json", HTTP_ACCEPT="application/xml")


def _throttled(api, staff, url, body):
    client = api(staff, Scope.DECISIONS_EVALUATE)
    rates = {**dj_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "decisions": "1/min"}
    with override_settings(
        REST_FRAMEWORK={**dj_settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ):
        assert client.post(url, body, format="json").status_code == 200
        return client.post(url, body, format="json")


def _server_error(api, staff, url, body):
    client = api(staff, Scope.DECISIONS_EVALUATE)
    client.raise_request_exception = False
    # A real failure, as on a broken deploy: the table of the tokens is gone (inside
    # the test's transaction, rolled back afterwards). One the decision reads is a deny.
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE tokens_apitoken RENAME TO tokens_apitoken_away")
    return client.post(url, body, format="json")


ANSWERS = {
    400: [_oversized, _bad_json],
    401: [_no_credential, _wrong_credential],
    403: [_no_scope],
    406: [_unacceptable],
    429: [_throttled],
    500: [_server_error],
}


@pytest.mark.parametrize("url", [EVALUATION, EVALUATIONS])
@pytest.mark.parametrize(
    ("status", "ask"), [(status, ask) for status, asks in ANSWERS.items() for ask in asks]
)
def test_each_error_of_the_authzen_operations_is_answered_as_documented(
    client, api, staff, clock, url, status, ask
):
    schema = yaml.safe_load(client.get("/api/v1/schema/").content)
    responses = schema["paths"][url]["post"]["responses"]
    # What the schema documents is what is answered, and nothing more.
    assert {int(code) for code in responses if int(code) >= 400} == set(ANSWERS)
    body = {
        "subject": {"type": "agent", "id": "support-assistant"},
        "action": {"name": "read"},
        "resource": {"type": "tool", "id": "kb-search"},
    }
    response = ask(api, staff, url, body)
    assert response.status_code == status, response.content[:300]
    media_type = response["Content-Type"].split(";")[0]
    content = responses[str(status)]["content"]
    assert media_type in content
    answered = response.json() if media_type == "application/json" else response.content.decode()
    jsonschema.validate(answered, {**content[media_type]["schema"], **schema})
