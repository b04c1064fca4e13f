"""API fixtures: tokens of any scope for any user, and clients that send them."""

import json

import pytest
import yaml
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from api.throttling import LEASES
from approvals import services
from tests.factories import AgentFactory, UserFactory, manifest_for
from tokens.models import Scope

GATE = "/api/v1/gate/check"


@pytest.fixture(autouse=True)
def fresh_throttles():
    """Start every test with empty throttle buckets (the cache is this run's Redis db)
    and no requests leased by this process."""
    cache.clear()
    LEASES.clear()
    yield
    cache.clear()
    LEASES.clear()


class FrozenClock:
    """Stand in for the time module so a test never straddles a throttle window."""

    def __init__(self, now: float):
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def ci(api, owner):
    """A client with a gate:check token of the agent's owner, as a pipeline has."""
    return api(owner, Scope.GATE_CHECK)


@pytest.fixture
def other_team_agent(db, other_owner):
    return AgentFactory(slug="hr-policy-copilot", team="people", owners=[other_owner])


@pytest.fixture
def security_oncall(db):
    return UserFactory(username="oncall", groups=["security"])


def csrf_session(user) -> tuple[Client, dict]:
    """Return a client signed in as the user that enforces CSRF as a browser meets it,
    and the header carrying its CSRF token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    client.get(reverse("token-list"))  # a page with a form sets the CSRF cookie
    return client, {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def error_of(response) -> dict:
    """Return the error body of a response, checking it has the one error shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


@pytest.fixture
def parses(monkeypatch):
    """Count the manifests the gate reads in full."""
    calls = []
    real = services.parse_manifest

    def spy(source, content_type=None):
        calls.append(content_type)
        return real(source, content_type)

    monkeypatch.setattr("approvals.gate.parse_manifest", spy)
    return calls


@pytest.fixture
def approved(workflow, agent):
    return workflow.approve(agent)


def check(client, **body) -> dict:
    """Ask the gate and return its answer, which is always a 200."""
    response = client.post(GATE, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def plain(doc) -> dict:
    """Return the manifest as the JSON a client sends."""
    return json.loads(json.dumps(doc))


def yaml_of(doc: dict) -> str:
    """Return the manifest as the YAML file a pipeline keeps."""
    return yaml.safe_dump(plain(doc))


def text_of(agent, **changes) -> str:
    """Return the agent's manifest (with `changes`) as the YAML file a pipeline keeps."""
    return yaml_of(manifest_for(agent, **changes))


def codes(answer: dict) -> list[str]:
    """Return the reason codes of a gate answer."""
    return [reason["code"] for reason in answer["reasons"]]


def check_yaml(client, agent, text) -> dict:
    """Check a manifest's YAML text at the gate; return its answer (always a 200)."""
    response = client.post(GATE, {"agent": agent.slug, "manifest_yaml": text}, format="json")
    assert response.status_code == 200, response.content
    return response.json()
