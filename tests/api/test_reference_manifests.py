"""The reference manifests in examples/, byte for byte, through the API and the release gate."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from rest_framework.test import APIClient

from approvals.models import PackageState
from signoffs.models import Dimension
from tests.api.conftest import GATE, codes
from tests.factories import TeamFactory
from tokens.models import Scope

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(autouse=True)
def kill_switch_tests_never_age(settings):
    """Keep the files' own kill-switch test dates fresh, whatever day the suite runs."""
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "KILL_SWITCH_TEST_MAX_AGE_DAYS": 100_000}


def register(client, doc: dict) -> None:
    """Register the agent a manifest names, with the identity it declares."""
    body = {
        "slug": doc["agent"],
        "name": doc["name"],
        "team": doc["team"],
        "workload_id": doc["identity"]["workload_id"],
        "log_principal": doc["identity"]["log_principal"],
        "deployment": doc["deployment"],
    }
    response = client.post("/api/v1/agents", body, format="json")
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("name", ["support-agent.yaml", "hr-copilot.yaml"])
def test_a_reference_manifest_is_submitted_approved_and_allowed_as_written(
    api, owner, reviewers, checklists, name
):
    text = (EXAMPLES / name).read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    TeamFactory(slug=doc["team"], members=[owner])
    ci = api(owner, Scope.PACKAGES_WRITE, Scope.GATE_CHECK, Scope.AGENTS_READ)
    register(ci, doc)
    packages = f"/api/v1/agents/{doc['agent']}/packages"

    created = ci.post(packages, text, content_type="application/yaml")
    assert created.status_code == 201, created.json()
    version = created.json()["version"]
    submitted = ci.post(f"{packages}/{version}/submit")
    assert submitted.status_code == 200, submitted.json()
    assert submitted.json()["state"] == PackageState.IN_REVIEW

    before = ci.post(GATE, {"agent": doc["agent"], "manifest_yaml": text}, format="json").json()
    assert (before["decision"], codes(before)) == ("deny", ["no_approved_package"])

    package = ci.get(f"{packages}/{version}").json()
    for signoff in package["signoffs"]:
        dimension = signoff["dimension"]
        answers = dict.fromkeys(signoff["required_items"], True)
        for reviewer in reviewers[dimension][: signoff["required_approvals"]]:
            decided = api(reviewer, Scope.REVIEWS_WRITE).post(
                f"{packages}/{version}/signoffs/{dimension}/decisions",
                {"verdict": "approve", "comment": "Checked.", "answers": answers},
                format="json",
            )
            assert decided.status_code == 201, decided.json()
    assert {s["dimension"] for s in package["signoffs"]} == set(Dimension.values)
    assert decided.json()["package_state"] == PackageState.APPROVED

    for body in ({"manifest_yaml": text}, {"digest": created.json()["digest"]}):
        answer = ci.post(GATE, {"agent": doc["agent"], **body}, format="json").json()
        assert (answer["decision"], answer["reasons"]) == ("allow", []), answer
        assert (answer["package_version"], answer["digest"]) == (
            version,
            created.json()["digest"],
        )
        assert answer["expires_at"]


@pytest.mark.parametrize("name", ["support-agent.yaml", "hr-copilot.yaml"])
def test_the_served_json_schema_accepts_a_reference_manifest(name):
    """A pipeline validating its file with any JSON Schema library, before calling the gate."""
    schema = APIClient().get("/api/v1/schema/manifest.json").json()
    validator = jsonschema.validators.validator_for(schema)
    validator.check_schema(schema)
    # YAML reads the kill switch's test date as a date; JSON carries it as text.
    doc = json.loads(json.dumps(yaml.safe_load((EXAMPLES / name).read_text()), default=str))
    errors = validator(schema, format_checker=validator.FORMAT_CHECKER).iter_errors(doc)
    assert [error.message for error in errors] == []
