"""Control and format characters are refused in every identifier the API takes, by field,
and nothing is stored; text fields keep what was typed."""

import copy

import pytest

from agents.models import Agent, Observation
from approvals.models import ApprovalPackage
from audit.models import AuditEvent
from tests.api.conftest import GATE, codes, error_of
from tests.factories import manifest_for
from tokens.models import Scope

pytestmark = pytest.mark.django_db

AGENTS = "/api/v1/agents"
# An ANSI colour escape, a terminal bell, a right-to-left override, a zero-width space.
BAD = ["agent\x1b[31m", "ring\x07", "cod\u202eexe.txt", "zero\u200bwidth"]


def new_agent(**changes) -> dict:
    return {
        "slug": "refund-bot",
        "name": "Refund bot",
        "workload_id": "spiffe://prod.example.com/ns/care/sa/refund-bot",
        "log_principal": "agent:refund-bot",
        "deployment": "customer_facing",
        **changes,
    }


@pytest.fixture
def writer(api, owner):
    return api(owner, Scope.PACKAGES_WRITE)


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize(
    ("field", "value", "reported"),
    [
        ("log_principal", "{bad}", "log_principal"),
        ("team", "{bad}", "team"),
        ("owners", ["owner", "{bad}"], "owners.1"),
    ],
)
def test_registering_an_agent_refuses_them_by_field(writer, field, value, reported, bad):
    events = AuditEvent.objects.count()
    value = [v.format(bad=bad) for v in value] if isinstance(value, list) else bad
    response = writer.post(AGENTS, new_agent(**{field: value}), format="json")
    assert response.status_code == 400, response.json()
    error = error_of(response)
    assert list(error["fields"]) == [reported]
    assert "control or format characters" in error["fields"][reported][0]
    assert not Agent.objects.filter(slug="refund-bot").exists()
    assert AuditEvent.objects.count() == events


def test_changing_an_agent_refuses_them_and_changes_nothing(writer, agent):
    for body, field in [({"team": BAD[2]}, "team"), ({"owners": [BAD[0]]}, "owners.0")]:
        response = writer.patch(f"{AGENTS}/{agent.slug}", body, format="json")
        assert response.status_code == 400
        assert list(error_of(response)["fields"]) == [field]
    agent.refresh_from_db()
    assert agent.team == "customer-care"
    assert [user.username for user in agent.owners.all()] == ["owner"]


def test_text_fields_keep_what_was_typed(writer):
    description = "Refunds <b>small</b> amounts; \u202eright-to-left\u202c text, 日本語 too."
    response = writer.post(
        AGENTS, new_agent(name="Refund \u202ebot", description=description), format="json"
    )
    assert response.status_code == 201, response.json()
    agent = Agent.objects.get(slug="refund-bot")
    assert (agent.name, agent.description) == ("Refund \u202ebot", description)


def manifest_with(agent, path: tuple, value) -> dict:
    manifest = copy.deepcopy(manifest_for(agent))
    node = manifest
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return manifest


MANIFEST_IDENTIFIERS = [
    (("identity", "log_principal"), "identity.log_principal"),
    (("model", "id"), "model.id"),
    (("model", "provider"), "model.provider"),
    (("team",), "team"),
    (("scope", "tools", 0, "id"), "scope.tools[0].id"),
    (("scope", "datasets", 1, "id"), "scope.datasets[1].id"),
    (("kill_switch", "owner"), "kill_switch.owner"),
    (("kill_switch", "webhook"), "kill_switch.webhook"),
    (("logging", "destinations", 0), "logging.destinations[0]"),
]


@pytest.mark.parametrize(("path", "reported"), MANIFEST_IDENTIFIERS)
def test_a_manifest_refuses_them_in_its_identifiers(writer, agent, path, reported):
    value = "https://gw.example.com/\x1b]8;;x\x07" if path[-1] == "webhook" else BAD[0]
    response = writer.post(
        f"{AGENTS}/{agent.slug}/packages", manifest_with(agent, path, value), format="json"
    )
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert list(fields) == [f"manifest.{reported}"], fields
    assert "control or format characters (found U+" in fields[f"manifest.{reported}"][-1]
    assert "U+001B" in fields[f"manifest.{reported}"][-1]
    assert not ApprovalPackage.objects.exists()


def test_a_manifest_keeps_text_in_its_narrative_fields(writer, agent):
    manifest = manifest_with(agent, ("justification",), "Why: \u202eit\u202c helps.\n\tReally.")
    response = writer.post(f"{AGENTS}/{agent.slug}/packages", manifest, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["manifest"]["justification"] == manifest["justification"]


def test_the_gate_denies_a_manifest_with_them_naming_the_field(api, owner, agent):
    ci = api(owner, Scope.GATE_CHECK)
    manifest = manifest_with(agent, ("scope", "tools", 0, "id"), BAD[2])
    response = ci.post(GATE, {"agent": agent.slug, "manifest": manifest}, format="json")
    assert response.status_code == 200
    answer = response.json()
    assert codes(answer) == ["invalid_manifest"]
    assert "manifest.scope.tools[0].id" in answer["reasons"][0]["fields"]


def test_observations_refuse_them_in_identifier_and_source(api, owner, agent):
    client = api(owner, Scope.OBSERVATIONS_WRITE)
    items = [
        {"kind": "tool", "identifier": "kb-search", "access": "read"},
        {"kind": "tool", "identifier": BAD[0], "access": "read"},
        {"kind": "tool", "identifier": "kb-search", "access": "read", "source": BAD[2]},
    ]
    response = client.post(f"{AGENTS}/{agent.slug}/observations", {"items": items}, format="json")
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert set(fields) == {"items[1].identifier", "items[2].source"}
    assert "U+001B" in fields["items[1].identifier"][0]
    assert "U+202E" in fields["items[2].source"][0]
    assert not Observation.objects.exists()


@pytest.mark.parametrize("name", ["agent", "actor", "action"])
def test_the_audit_filters_refuse_them_by_name(api, staff, name):
    response = api(staff, Scope.AUDIT_READ).get("/api/v1/audit/events", {name: BAD[1]})
    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == [name]
