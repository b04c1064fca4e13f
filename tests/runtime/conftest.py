"""Runtime fixtures: an approved agent, a gateway client, Redis usage counts emptied."""

import pytest
from django.core.cache import cache

from api.throttling import LEASES
from runtime.cedar import bundles_clear
from runtime.decision import memos_clear
from runtime.usage import FLUSHING, PREFIX, usage_client
from tests.api.conftest import FrozenClock
from tokens.models import Scope

EVALUATION = "/access/v1/evaluation"
EVALUATIONS = "/access/v1/evaluations"


@pytest.fixture(autouse=True)
def no_runtime_memos():
    memos_clear()
    bundles_clear()


@pytest.fixture(autouse=True)
def empty_usage():
    """Start and end every test with no usage counts in this run's Redis database."""

    def empty():
        client = usage_client()
        for pattern in (f"{PREFIX}*", f"{FLUSHING}*"):
            for key in client.scan_iter(match=pattern):
                client.delete(key)

    empty()
    yield
    empty()


@pytest.fixture
def clock(monkeypatch):
    """Freeze the throttles' clock, their buckets empty, so no test straddles a window."""
    frozen = FrozenClock(1_800_000_000.0)
    monkeypatch.setattr("api.throttling.time", frozen)
    cache.clear()
    LEASES.clear()
    yield frozen
    cache.clear()
    LEASES.clear()


@pytest.fixture
def approved(workflow, agent):
    return workflow.approve(agent)


@pytest.fixture
def gateway(api, staff):
    """A client with a gateway token: the decision scope, bound to no agent."""
    return api(staff, Scope.DECISIONS_EVALUATE)


@pytest.fixture
def runtime(api, staff, agent):
    """A client with the agent's runtime token: the decision scope, bound to the agent.

    Its uses become the agent's observations (a gateway's do only for the agents its
    user owns).
    """
    return api(staff, Scope.DECISIONS_EVALUATE, agents=[agent])


def ask(client, agent_id, action, kind, ident, properties=None, **context):
    resource = {"type": kind, "id": ident}
    if properties:
        resource["properties"] = properties
    body = {
        "subject": {"type": "agent", "id": agent_id},
        "action": {"name": action},
        "resource": resource,
        "context": context,
    }
    return client.post(EVALUATION, body, format="json")
