"""A JSON body holding a lone surrogate ("\\ud800", half of a UTF-16 pair) is a 400 saying
where, on every endpoint, before anything is read into a manifest, a row or an error that
echoes it; an escaped pair is one character and is accepted."""

import json

import pytest

from agents.models import Agent, Observation
from approvals.models import ApprovalPackage
from audit.models import AuditEvent
from signoffs.models import Decision
from tests.api.conftest import GATE, check_yaml, codes, error_of, plain
from tests.factories import manifest_for
from tokens.models import Scope

pytestmark = pytest.mark.django_db

LONE = "\ud800"


def send(client, url: str, body, content_type: str = "application/json"):
    """POST ``body`` as JSON text; json.dumps writes a lone surrogate as its escape."""
    return client.post(url, json.dumps(body), content_type=content_type)


def packages(agent) -> str:
    return f"/api/v1/agents/{agent.slug}/packages"


def assert_refused(response, where: str, escape: str = "\\ud800") -> None:
    assert response.status_code == 400, response.content[:300]
    error = error_of(response)
    assert error["code"] == "parse_error"
    assert error["message"] == (
        f"JSON parse error - {where} holds {escape}, half of a UTF-16 pair without its "
        "other half, which is no character."
    )
    assert error["fields"] == {"body": [error["message"]]}


def test_a_manifest_holding_one_is_refused_and_nothing_stored(api, owner, agent, checklists):
    client = api(owner, Scope.PACKAGES_WRITE)
    events = AuditEvent.objects.count()
    manifest = plain(manifest_for(agent))
    manifest["scope"]["tools"][1]["justification"] = f"search{LONE}"
    assert_refused(send(client, packages(agent), manifest), "scope.tools[1].justification")
    manifest = plain(manifest_for(agent))
    manifest["scope"]["actions"][1]["constraints"] = {"\udfff": 1}
    assert_refused(
        send(client, packages(agent), manifest),
        "a key in scope.actions[1].constraints",
        "\\udfff",
    )
    assert_refused(send(client, packages(agent), {"manifest_yaml": LONE}), "manifest_yaml")
    assert_refused(send(client, packages(agent), LONE), "the body")
    assert not ApprovalPackage.objects.exists()
    assert AuditEvent.objects.count() == events


def test_the_escape_is_found_in_either_case_and_in_any_charset(api, owner, agent):
    client = api(owner, Scope.PACKAGES_WRITE)
    body = '{"manifest_yaml": "\\uDBFF"}'
    assert_refused(
        client.post(packages(agent), body, content_type="application/json"),
        "manifest_yaml",
        "\\udbff",
    )
    response = client.post(
        packages(agent), body.encode("utf-16"), content_type="application/json; charset=utf-16"
    )
    assert_refused(response, "manifest_yaml", "\\udbff")
    assert not ApprovalPackage.objects.exists()


def test_an_escaped_pair_is_one_character_and_accepted(api, owner, agent, checklists):
    client = api(owner, Scope.PACKAGES_WRITE)
    manifest = plain(manifest_for(agent))
    manifest["scope"]["tools"][1]["justification"] = "search \U0001f50d"
    body = json.dumps(manifest)
    assert "\\ud83d\\udd0d" in body
    response = client.post(packages(agent), body, content_type="application/json")
    assert response.status_code == 201, response.content[:300]
    stored = ApprovalPackage.objects.get().manifest["scope"]["tools"]
    assert "search \U0001f50d" in [tool["justification"] for tool in stored]


def test_yaml_refuses_the_escape_as_an_invalid_manifest(api, owner, agent, checklists):
    client = api(owner, Scope.PACKAGES_WRITE)
    text = 'agent: support-assistant\nname: "x\\ud800"\n'
    for response in (
        client.post(packages(agent), text, content_type="application/yaml"),
        send(client, packages(agent), {"manifest_yaml": text}),
    ):
        assert response.status_code == 400, response.content[:300]
        error = error_of(response)
        assert (error["code"], list(error["fields"])) == ("invalid_manifest", ["manifest"])
        assert (
            "invalid Unicode character escape code (line 2, column"
            in (error["fields"]["manifest"][0])
        )
    # A surrogate written as UTF-8 bytes is no UTF-8.
    response = client.post(packages(agent), b"name: \xed\xa0\x80\n", content_type="text/yaml")
    assert response.status_code == 400
    assert "not UTF-8" in error_of(response)["message"]
    assert not ApprovalPackage.objects.exists()


def test_the_gate_denies_it_as_an_invalid_request(ci, agent, approved, audit_since):
    since = audit_since()
    response = send(ci, GATE, {"agent": agent.slug, "manifest_yaml": LONE})
    assert response.status_code == 200
    answer = response.json()
    assert (answer["decision"], codes(answer)) == ("deny", ["invalid_request"])
    assert answer["reasons"][0]["fields"]["body"] == [
        "JSON parse error - manifest_yaml holds \\ud800, half of a UTF-16 pair without its "
        "other half, which is no character."
    ]
    answer = check_yaml(ci, agent, 'agent: support-assistant\nname: "\\ud800"\n')
    assert (answer["decision"], codes(answer)) == ("deny", ["invalid_manifest"])
    assert [event.data["reasons"] for event in since()] == [
        ["invalid_request"],
        ["invalid_manifest"],
    ]


def test_observations_holding_one_are_refused_and_none_stored(api, owner, agent):
    client = api(owner, Scope.OBSERVATIONS_WRITE)
    items = [
        {"kind": "tool", "identifier": "kb-search", "access": "read"},
        {"kind": "tool", "identifier": LONE, "access": "read"},
    ]
    response = send(client, f"/api/v1/agents/{agent.slug}/observations", {"items": items})
    assert_refused(response, "items[1].identifier")
    assert not Observation.objects.exists()


def test_a_choice_that_would_echo_it_in_its_error_is_refused(
    api, owner, reviewers, workflow, agent
):
    agent_body = {
        "slug": "claims-bot",
        "name": "Claims bot",
        "workload_id": "spiffe://prod.example.com/ns/claims/sa/claims-bot",
        "log_principal": "agent:claims-bot",
        "deployment": LONE,
    }
    assert_refused(send(api(owner), "/api/v1/agents", agent_body), "deployment")
    assert not Agent.objects.filter(slug="claims-bot").exists()
    package = workflow.submit(agent)
    url = f"/api/v1/agents/{agent.slug}/packages/{package.version}/signoffs/iam/decisions"
    assert_refused(send(api(reviewers["iam"][0]), url, {"verdict": LONE}), "verdict")
    assert not Decision.objects.exists()


def test_the_authzen_endpoints_answer_400_with_the_message(api, staff, agent):
    client = api(staff, Scope.DECISIONS_EVALUATE)
    evaluation = {
        "subject": {"type": "agent", "id": agent.slug},
        "action": {"name": "read"},
        "resource": {"type": "tool", "id": LONE},
    }
    response = send(client, "/access/v1/evaluation", evaluation)
    assert response.status_code == 400
    assert response.json() == (
        "JSON parse error - resource.id holds \\ud800, half of a UTF-16 pair without its "
        "other half, which is no character."
    )
    response = send(client, "/access/v1/evaluations", {"evaluations": [evaluation]})
    assert response.status_code == 400
    assert "evaluations[0].resource.id holds \\ud800" in response.json()
