"""One limit on a request body: over it 413 in the error shape, before any parsing; below it
each endpoint's own contract (the gate's deny naming the field)."""

import json

import pytest
from django.conf import settings as dj_settings

from approvals.models import ApprovalPackage
from audit.models import AuditEvent
from tests.api.conftest import GATE, codes, error_of, yaml_of
from tests.factories import manifest_for
from tokens.models import Scope

pytestmark = pytest.mark.django_db

LIMIT = dj_settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def packages_url(agent) -> str:
    return f"/api/v1/agents/{agent.slug}/packages"


def padded_yaml(agent, size: int) -> str:
    """Return the agent's manifest as YAML padded with a comment to ``size`` bytes."""
    text = yaml_of(manifest_for(agent))
    return text + "#" + "x" * (size - len(text.encode()) - 1)


def assert_too_large(response, limit: int = LIMIT) -> None:
    assert response.status_code == 413, response.content[:300]
    assert response["Content-Type"] == "application/json"
    error = error_of(response)
    assert error["code"] == "too_large"
    assert str(limit) in error["message"]
    assert error["fields"] == {"body": [f"At most {limit} bytes."]}


def test_the_limit_is_five_mebibytes_by_default():
    assert LIMIT == 5 * 1024 * 1024


def test_a_yaml_body_over_the_limit_is_refused_and_nothing_is_stored(api, owner, agent):
    client = api(owner, Scope.PACKAGES_WRITE)
    events = AuditEvent.objects.count()
    response = client.post(
        packages_url(agent), padded_yaml(agent, LIMIT + 1), content_type="application/yaml"
    )
    assert_too_large(response)
    assert not ApprovalPackage.objects.filter(agent=agent).exists()
    assert AuditEvent.objects.count() == events


def test_a_yaml_body_at_the_limit_is_read(api, owner, agent, checklists):
    client = api(owner, Scope.PACKAGES_WRITE)
    response = client.post(
        packages_url(agent), padded_yaml(agent, LIMIT), content_type="application/yaml"
    )
    assert response.status_code == 201, response.content[:300]


def test_a_json_body_over_the_limit_is_refused_in_the_error_shape(api, owner, agent):
    client = api(owner, Scope.PACKAGES_WRITE)
    manifest = manifest_for(agent, justification="x" * LIMIT)
    body = json.dumps(manifest)
    response = client.post(packages_url(agent), body, content_type="application/json")
    assert_too_large(response)
    assert not ApprovalPackage.objects.filter(agent=agent).exists()


def test_a_body_over_the_limit_is_refused_before_authentication(client, agent):
    response = client.post(GATE, b"{" + b" " * LIMIT + b"}", content_type="application/json")
    assert_too_large(response)


def test_the_gate_refuses_a_body_over_the_limit_and_audits_no_check(ci, agent):
    events = AuditEvent.objects.count()
    body = {"agent": agent.slug, "manifest_yaml": padded_yaml(agent, LIMIT)}
    response = ci.post(GATE, json.dumps(body), content_type="application/json")
    assert_too_large(response)
    assert AuditEvent.objects.count() == events


def test_below_the_limit_the_gate_denies_naming_the_field(ci, agent, audit_since):
    since = audit_since()
    big = 4 * 1024 * 1024
    for body, field in [
        ({"agent": "a" * big, "digest": "0" * 64}, "agent"),
        ({"agent": agent.slug, "digest": "0" * big}, "digest"),
        ('{"agent": "' + "a" * big, "body"),
    ]:
        data = body if isinstance(body, str) else json.dumps(body)
        response = ci.post(GATE, data, content_type="application/json")
        assert response.status_code == 200, response.content[:300]
        answer = response.json()
        assert answer["decision"] == "deny"
        assert codes(answer) == ["invalid_request"]
        assert field in answer["reasons"][0]["fields"], answer["reasons"][0]["fields"]
    assert [event.action for event in since()] == ["gate.checked"] * 3


def test_the_one_setting_sets_the_limit(api, owner, agent, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    client = api(owner, Scope.PACKAGES_WRITE)
    response = client.post(
        packages_url(agent), padded_yaml(agent, 8000), content_type="application/yaml"
    )
    assert_too_large(response, limit=1000)
    response = client.post(GATE, {"agent": agent.slug, "digest": "0" * 1000}, format="json")
    assert_too_large(response, limit=1000)
