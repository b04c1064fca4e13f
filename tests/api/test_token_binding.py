"""A token bound to agents reaches only them on every agent-scoped endpoint; reads need a scope."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.api.serializers import GateResultSerializer
from tests.api.conftest import GATE, codes, error_of
from tests.factories import AgentFactory, DriftFindingFactory, UserFactory
from tokens.models import Scope

pytestmark = pytest.mark.django_db

AGENTS = "/api/v1/agents"


@pytest.fixture
def mine(workflow, agent):
    """The owner's agent, approved; the token is bound to it."""
    return workflow.approve(agent)


@pytest.fixture
def sibling(workflow, owner):
    """Another agent of the same owner, approved, with a finding: the token is not bound to it."""
    other = AgentFactory(slug="billing-helper", owners=[owner])
    package = workflow.approve(other)
    DriftFindingFactory(agent=other, package=package, severity="high")
    return package


@pytest.fixture
def bound(api, owner, agent):
    return api(owner, agents=[agent])


def agent_paths(slug: str, finding: int = 1) -> list[str]:
    return [
        f"{AGENTS}/{slug}",
        f"{AGENTS}/{slug}/packages",
        f"{AGENTS}/{slug}/packages/1",
        f"{AGENTS}/{slug}/packages/1/diff/1",
        f"{AGENTS}/{slug}/findings",
        f"{AGENTS}/{slug}/findings/{finding}",
    ]


def test_a_bound_token_lists_and_reads_only_its_agents(bound, mine, sibling):
    listed = bound.get(AGENTS).json()["results"]
    assert [a["slug"] for a in listed] == [mine.agent.slug]
    finding = sibling.agent.drift_findings.get().pk
    for path in agent_paths(sibling.agent.slug, finding):
        response = bound.get(path)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"
    for path in agent_paths(mine.agent.slug)[:4]:
        assert bound.get(path).status_code == 200, path


def test_the_same_user_unbound_reaches_every_agent_they_see(api, owner, mine, sibling):
    client = api(owner)
    listed = {a["slug"] for a in client.get(AGENTS).json()["results"]}
    assert listed == {mine.agent.slug, sibling.agent.slug}


def test_a_bound_token_writes_only_for_its_agents(bound, mine, sibling, audit_since):
    since = audit_since()
    other = sibling.agent.slug
    item = {"kind": "tool", "identifier": "kb-search", "access": "read"}
    refused = [
        bound.post(f"{AGENTS}/{other}/observations", {"items": [item]}, format="json"),
        bound.post(f"{AGENTS}/{other}/packages", {}, format="json"),
        bound.patch(f"{AGENTS}/{other}", {"description": "x"}, format="json"),
    ]
    assert [r.status_code for r in refused] == [404, 404, 404]
    registered = bound.post(
        AGENTS,
        {
            "slug": "new-one",
            "name": "New one",
            "workload_id": "spiffe://prod.example.com/ns/x/sa/new-one",
            "log_principal": "agent:new-one",
            "deployment": "internal_copilot",
        },
        format="json",
    )
    assert registered.status_code == 403
    assert error_of(registered)["code"] == "token_bound"
    assert since() == []
    ok = bound.post(f"{AGENTS}/{mine.agent.slug}/observations", {"items": [item]}, format="json")
    assert ok.status_code == 202
    assert [e.action for e in since()] == ["observations.recorded"]


def test_a_runtime_token_bound_to_the_agent_reports_for_it(api, staff, mine, sibling):
    """Staff see every agent but report observations only through a token bound to it."""
    item = {"kind": "tool", "identifier": "kb-search", "access": "read"}
    unbound = api(staff, Scope.OBSERVATIONS_WRITE)
    response = unbound.post(
        f"{AGENTS}/{mine.agent.slug}/observations", {"items": [item]}, format="json"
    )
    assert response.status_code == 403
    runtime = api(staff, Scope.OBSERVATIONS_WRITE, agents=[mine.agent])
    response = runtime.post(
        f"{AGENTS}/{mine.agent.slug}/observations", {"items": [item]}, format="json"
    )
    assert response.status_code == 202


def test_the_gate_answers_a_bound_token_for_its_agents_only(bound, mine, sibling, audit_since):
    answer = bound.post(GATE, {"agent": mine.agent.slug, "digest": mine.digest}, format="json")
    assert answer.json()["decision"] == "allow"
    assert answer.json()["package_version"] == mine.version
    since = audit_since()
    for slug in (sibling.agent.slug, "no-such-agent"):
        response = bound.post(GATE, {"agent": slug, "digest": sibling.digest}, format="json")
        assert response.status_code == 200
        body = response.json()
        assert codes(body) == ["agent_not_bound"]
        assert body["decision"] == "deny"
        assert GateResultSerializer(data=body).is_valid(), "the documented answer names the code"
        assert (body["package_version"], body["digest"], body["expires_at"]) == (None,) * 3
    events = since()
    assert [(e.action, e.data["reasons"]) for e in events] == [
        ("gate.checked", ["agent_not_bound"])
    ] * 2


def test_a_bound_gate_check_costs_one_query_more_than_an_unbound_one(api, owner, mine, bound):
    body = {"agent": mine.agent.slug, "digest": mine.digest}
    unbound = api(owner, Scope.GATE_CHECK)
    counts = []
    for client in (unbound, unbound, bound, bound):
        with CaptureQueriesContext(connection) as queries:
            assert client.post(GATE, body, format="json").json()["decision"] == "allow"
        counts.append(len(queries))
    # The first check of each token also writes its last use.
    assert counts[3] == counts[1] + 1


def test_the_audit_trail_of_a_bound_token_is_its_agents(api, mine, sibling):
    officer = UserFactory(username="officer", groups=["compliance-officer"])
    client = api(officer, Scope.AUDIT_READ, agents=[mine.agent])
    slugs = {e["agent_slug"] for e in client.get("/api/v1/audit/events").json()["results"]}
    assert slugs == {mine.agent.slug}
    export = "/api/v1/audit/export.csv"
    missing = client.get(export)
    assert missing.status_code == 400
    assert "agent" in error_of(missing)["fields"]
    assert client.get(export, {"agent": sibling.agent.slug}).status_code == 404
    own = client.get(export, {"agent": mine.agent.slug})
    assert own.status_code == 200
    assert sibling.agent.slug not in b"".join(own.streaming_content).decode()
    evidence = f"{AGENTS}/{{}}/packages/1/evidence"
    assert client.get(evidence.format(sibling.agent.slug)).status_code == 404
    assert client.get(evidence.format(mine.agent.slug)).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        AGENTS,
        f"{AGENTS}/support-assistant",
        f"{AGENTS}/support-assistant/packages",
        f"{AGENTS}/support-assistant/packages/1",
        f"{AGENTS}/support-assistant/findings",
    ],
)
def test_reads_need_the_read_scope(api, owner, mine, path):
    response = api(owner, Scope.GATE_CHECK, Scope.PACKAGES_WRITE).get(path)
    assert response.status_code == 403
    assert error_of(response)["code"] == "insufficient_scope"
    assert api(owner, Scope.AGENTS_READ).get(path).status_code == 200
