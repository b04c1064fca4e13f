"""YAML whose syntax parses but whose values no type can hold (a date that does not exist, a
tag on text it does not fit, an int past Python's digit limit): a 400 or the gate's
`invalid_manifest` naming the line, never a 500; nothing is stored."""

import json

import pytest

from approvals.models import ApprovalPackage
from audit.models import AuditEvent
from tests.api.conftest import GATE, check_yaml, codes, error_of, plain, yaml_of
from tests.factories import manifest_for
from tokens.models import Scope

pytestmark = pytest.mark.django_db

HERE = "PUT-THE-VALUE-HERE"

# (section, field, the value as YAML text, what the error says of it)
UNBUILDABLE = [
    ("kill_switch", "last_tested", "2026-02-30", "'2026-02-30' is not a valid timestamp: day is"),
    ("kill_switch", "last_tested", "2026-13-01 10:00:00", "month must be in 1..12"),
    ("kill_switch", "last_tested", '!!timestamp "soon"', "'soon' is not a valid timestamp"),
    ("credentials", "max_ttl_seconds", '!!int "x"', "'x' is not a valid int"),
    ("credentials", "max_ttl_seconds", '!!float "x"', "'x' is not a valid float"),
    ("credentials", "jit", '!!bool "maybe"', "'maybe' is not a valid bool"),
    ("credentials", "max_ttl_seconds", "9" * 5000, "has 5000 digits"),
    ("credentials", "max_ttl_seconds", "0x" + "f" * 4000, "more than 4300 digits"),
    ("credentials", "max_ttl_seconds", "1:" + "0:" * 10_000 + "0", "more than 17200 characters"),
]


def with_value(agent, section: str, field: str, raw: str) -> tuple[str, int]:
    """Return the agent's manifest as YAML with `raw` as one field's value, and its line."""
    manifest = plain(manifest_for(agent))
    manifest[section][field] = HERE
    text = yaml_of(manifest)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if HERE in row)
    return text.replace(HERE, raw), line


def packages(agent) -> str:
    return f"/api/v1/agents/{agent.slug}/packages"


@pytest.mark.parametrize(("section", "field", "raw", "says"), UNBUILDABLE)
def test_a_yaml_body_is_400_naming_the_value_and_its_line(
    api, owner, agent, checklists, section, field, raw, says
):
    client = api(owner, Scope.PACKAGES_WRITE)
    text, line = with_value(agent, section, field, raw)
    events = AuditEvent.objects.count()
    for response in (
        client.post(packages(agent), text, content_type="application/yaml"),
        client.post(packages(agent), {"manifest_yaml": text}, format="json"),
    ):
        assert response.status_code == 400, response.content[:300]
        error = error_of(response)
        assert (error["code"], list(error["fields"])) == ("invalid_manifest", ["manifest"])
        (message,) = error["fields"]["manifest"]
        assert message.startswith("invalid YAML: ")
        assert says in message and f"(line {line}, column " in message
    assert not ApprovalPackage.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(("section", "field", "raw", "says"), UNBUILDABLE)
def test_the_gate_denies_it_as_an_invalid_manifest(ci, agent, approved, section, field, raw, says):
    text, line = with_value(agent, section, field, raw)
    answer = check_yaml(ci, agent, text)
    assert (answer["decision"], codes(answer)) == ("deny", ["invalid_manifest"])
    (message,) = answer["reasons"][0]["fields"]["manifest"]
    assert says in message and f"(line {line}, column " in message


def test_an_int_past_the_digit_limit_in_json_is_refused_as_bad_json(ci, api, owner, agent):
    """JSON's ints are read in decimal only, so Python's parser refuses a long one itself."""
    manifest = json.dumps(plain(manifest_for(agent)))
    body = manifest.replace('"max_ttl_seconds": 900', '"max_ttl_seconds": ' + "9" * 5000)
    client = api(owner, Scope.PACKAGES_WRITE)
    response = client.post(packages(agent), body, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"
    assert "5000 digits" in error_of(response)["message"]
    assert "sys.set_int_max_str_digits" not in error_of(response)["message"]
    assert error_of(response)["fields"] == {"body": [error_of(response)["message"]]}
    assert not ApprovalPackage.objects.exists()
    gate_body = f'{{"agent": "{agent.slug}", "manifest": {body}}}'
    answer = ci.post(GATE, gate_body, content_type="application/json").json()
    assert (answer["decision"], codes(answer)) == ("deny", ["invalid_request"])
    assert "5000 digits" in answer["reasons"][0]["fields"]["body"][0]


def test_a_long_int_within_the_limit_is_read_and_stored(api, owner, agent, checklists):
    manifest = plain(manifest_for(agent))
    manifest["scope"]["actions"][1]["constraints"]["max_amount_eur"] = HERE
    text = yaml_of(manifest).replace(HERE, "0x" + "f" * 3000)  # 3612 digits in decimal
    client = api(owner, Scope.PACKAGES_WRITE)
    response = client.post(packages(agent), text, content_type="application/yaml")
    assert response.status_code == 201, response.content[:300]
    (action,) = [a for a in response.json()["manifest"]["scope"]["actions"] if a["constraints"]]
    assert action["constraints"]["max_amount_eur"] == 16**3000 - 1
