"""GET /api/v1/agents/{slug}/policy: a signed Cedar bundle, cheap to poll, denying when stopped."""

import base64
import hashlib
import json
import time
from datetime import timedelta

import cedarpy
import pytest
from cryptography.hazmat.primitives import serialization
from django.utils import timezone

from agents.models import Agent
from approvals.models import ApprovalPackage
from approvals.services import agent_suspend
from audit import signing
from audit.actors import Actor
from runtime.cedar import bundle_bytes, cedar_request, policy_bundle
from runtime.requests import Evaluation
from tests.factories import AgentFactory
from tokens.models import Scope

pytestmark = pytest.mark.django_db


def url(slug):
    return f"/api/v1/agents/{slug}/policy"


def allows(bundle, action, kind, ident, now=None, **claims):
    evaluation = Evaluation("agent", bundle["agent"], action, kind, ident, claims)
    request = cedar_request(evaluation, bundle, now or int(time.time()))
    result = cedarpy.is_authorized(
        request, bundle["policies"], bundle["entities"], schema=bundle["schema"]
    )
    return result.allowed


def test_the_bundle_is_signed_over_its_bytes(approved, agent, gateway):
    response = gateway.get(url(agent.slug))
    assert response.status_code == 200
    body = response.content
    bundle = json.loads(body)
    assert bundle["digest"] == approved.digest
    assert bundle["package_version"] == approved.version
    assert bundle["expires_at"] == approved.expires_at.isoformat()
    assert bundle["decision"] == "allow" and bundle["reasons"] == []
    assert response["ETag"] == '"' + hashlib.sha256(body).hexdigest() + '"'
    # Offline: the public key alone (as a verifier holds it) checks the detached signature.
    public = serialization.load_pem_public_key(signing.public_key_pem().encode())
    public.verify(base64.b64decode(response["X-Countersign-Signature"]), body)
    assert response["X-Countersign-Key-Fingerprint"] == signing.fingerprint(public)
    tampered = body.replace(approved.digest.encode(), b"0" * 64)
    assert not signing.signature_valid(tampered, response["X-Countersign-Signature"], public)
    validation = cedarpy.validate_policies(bundle["policies"], bundle["schema"])
    assert validation.validation_passed, [str(error) for error in validation.errors]


def test_a_gateway_token_reads_the_key_that_verifies_its_bundle(approved, agent, owner, api):
    """The agent's owner runs the gateway: their decisions:evaluate token, bound to the
    agent, polls the bundle and reads the public key that checks its signature."""
    gateway = api(owner, Scope.DECISIONS_EVALUATE, agents=[agent])
    bundle = gateway.get(url(agent.slug))
    answer = gateway.get("/api/v1/audit/public-key")

    assert answer.status_code == 200
    key = answer.json()
    assert key["fingerprint"] == bundle["X-Countersign-Key-Fingerprint"]
    public = serialization.load_pem_public_key(key["public_key"].encode())
    public.verify(base64.b64decode(bundle["X-Countersign-Signature"]), bundle.content)
    # A token for neither the audit trail nor the bundles is refused it, as before.
    refused = api(owner, Scope.GATE_CHECK).get("/api/v1/audit/public-key")
    assert refused.status_code == 403
    assert "decisions:evaluate" in refused.json()["error"]["message"]


def test_an_unchanged_bundle_is_304(approved, agent, gateway):
    first = gateway.get(url(agent.slug))
    again = gateway.get(url(agent.slug), HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == first["ETag"]
    stale = gateway.get(url(agent.slug), HTTP_IF_NONE_MATCH='"0000"')
    assert stale.status_code == 200


def test_a_polled_bundle_is_the_one_built_afresh(approved, agent, gateway):
    """The memoized bundle is the plain build's bytes, and follows each thing it is made of."""
    first = gateway.get(url(agent.slug))
    assert first.content == bundle_bytes(policy_bundle(Agent.objects.get(pk=agent.pk)))
    Agent.objects.filter(pk=agent.pk).update(workload_id="spiffe://example.org/ns/x/sa/moved")
    moved = gateway.get(url(agent.slug), HTTP_IF_NONE_MATCH=first["ETag"])
    assert moved.status_code == 200 and moved["ETag"] != first["ETag"]
    assert json.loads(moved.content)["workload_id"] == "spiffe://example.org/ns/x/sa/moved"
    assert moved.content == bundle_bytes(policy_bundle(Agent.objects.get(pk=agent.pk)))
    public = serialization.load_pem_public_key(signing.public_key_pem().encode())
    public.verify(base64.b64decode(moved["X-Countersign-Signature"]), moved.content)


def test_a_suspended_agents_bundle_denies_everything(approved, agent, gateway):
    before = gateway.get(url(agent.slug))
    assert allows(json.loads(before.content), "read", "tool", "kb-search")
    agent_suspend(actor=Actor.system("oncall"), agent=agent, reason="Test.")
    after = gateway.get(url(agent.slug), HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
    bundle = json.loads(after.content)
    assert bundle["decision"] == "deny" and bundle["reasons"][0] == "agent_suspended"
    assert "permit" not in bundle["policies"]
    assert not allows(bundle, "read", "tool", "kb-search")


def test_an_expired_approval_denies_everything(approved, agent, gateway):
    bundle = json.loads(gateway.get(url(agent.slug)).content)
    # The bundle a gateway holds stops permitting at the expiry, without a new poll.
    expiry = bundle["expires_epoch"]
    assert allows(bundle, "read", "tool", "kb-search", now=expiry - 1)
    assert not allows(bundle, "read", "tool", "kb-search", now=expiry)
    ApprovalPackage.objects.filter(pk=approved.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    expired = json.loads(gateway.get(url(agent.slug)).content)
    assert expired["reasons"] == ["approval_expired"]
    assert not allows(expired, "read", "tool", "kb-search", now=expiry - 1)


def test_who_may_read_it(approved, agent, owner, api, staff):
    assert api(staff, Scope.GATE_CHECK).get(url(agent.slug)).status_code == 403
    other = AgentFactory(slug="other-agent", owners=[owner])
    bound = api(owner, Scope.DECISIONS_EVALUATE, agents=[agent])
    assert bound.get(url(agent.slug)).status_code == 200
    assert bound.get(url(other.slug)).status_code == 404
    assert api(staff, Scope.DECISIONS_EVALUATE).get(url("nobody")).status_code == 404


def test_it_can_be_downloaded_as_a_file(approved, agent, client, staff):
    client.force_login(staff)
    response = client.get(url(agent.slug) + "?download=1")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="support-assistant.cedar.json"'
