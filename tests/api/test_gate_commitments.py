"""Over HTTP: a changed commitment is denied with its fields, narrative passes, both documented."""

import pytest
from rest_framework.test import APIClient

from approvals import manifest as manifests
from tests.api.conftest import check, codes, plain, yaml_of
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db


def test_a_changed_commitment_is_denied_with_its_paths(ci, agent, approved):
    manifest = plain(manifest_for(agent))
    manifest["kill_switch"]["owner"] = "someone-else"
    manifest["logging"]["destinations"].append("archive")
    for body in ({"manifest": manifest}, {"manifest_yaml": yaml_of(manifest)}):
        answer = check(ci, agent=agent.slug, **body)
        assert (answer["decision"], codes(answer)) == ("deny", ["commitment_changed"])
        reason = answer["reasons"][0]
        assert reason["changed_fields"] == ["kill_switch.owner", "logging.destinations"]
        assert "kill_switch.owner" in reason["message"]
        assert answer["package_version"] == approved.version


def test_an_expansion_and_a_commitment_change_give_both_reasons(ci, agent, approved):
    manifest = plain(manifest_for(agent))
    manifest["scope"]["tools"].append({"id": "shell", "access": "execute"})
    manifest["rollback"]["plan"] = "None."
    answer = check(ci, agent=agent.slug, manifest=manifest)
    assert (answer["decision"], codes(answer)) == ("deny", ["scope_mismatch", "commitment_changed"])
    assert [c["identifier"] for c in answer["reasons"][0]["expansions"]] == ["shell"]
    assert answer["reasons"][0]["expansions"][0]["message"].endswith("(scope expansion)")
    assert answer["reasons"][1]["changed_fields"] == ["rollback.plan"]


def test_reworded_narrative_is_allowed(ci, agent, approved):
    manifest = plain(manifest_for(agent))
    manifest["description"] = "Answers support questions politely."
    manifest["justification"] = "Reworded."
    manifest["scope"]["tools"][0]["justification"] = "Reworded too."
    answer = check(ci, agent=agent.slug, manifest_yaml=yaml_of(manifest))
    assert (answer["decision"], answer["reasons"]) == ("allow", [])
    # The answer names the approved version; its digest is the reworded manifest's own.
    assert answer["package_version"] == approved.version
    assert answer["digest"] not in (None, approved.digest)


def test_the_served_manifest_schema_classifies_every_field(db):
    served = APIClient().get("/api/v1/schema/manifest.json").json()
    assert manifests.CHANGE_CLASS in served["description"]
    assert served["properties"]["kill_switch"]["properties"]["owner"][manifests.CHANGE_CLASS] == (
        manifests.COMMITMENT
    )
    entry = served["$defs"]["entry"]["properties"]
    assert entry["justification"][manifests.CHANGE_CLASS] == manifests.NARRATIVE
    assert entry["access"][manifests.CHANGE_CLASS] == manifests.SCOPE


def test_the_openapi_schema_documents_the_new_reason(db):
    schema = (
        APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    )
    components = schema["components"]["schemas"]

    def resolved(node: dict) -> dict:
        """Follow a component reference, bare or wrapped in allOf beside a description."""
        ref = node.get("$ref") or next((n["$ref"] for n in node.get("allOf", [])), None)
        return components[ref.rsplit("/", 1)[1]] if ref else node

    reason = components["GateReason"]["properties"]
    assert "commitment_changed" in resolved(reason["code"])["enum"]
    assert reason["changed_fields"]["type"] == "array"
    description = schema["paths"]["/api/v1/gate/check"]["post"]["description"]
    assert "`commitment_changed`" in description and "changed_fields" in description
    classification = resolved(components["Change"]["properties"]["classification"])
    assert set(classification["enum"]) == {"expansion", "narrowing", "commitment", "narrative"}
