"""Drift findings over the API: list and read them, acknowledge and resolve them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from approvals.models import FindingStatus
from tests.api.conftest import GATE, error_of
from tests.factories import AgentFactory, DriftFindingFactory
from tokens.models import Scope

pytestmark = pytest.mark.django_db

BASE = "/api/v1/agents/support-assistant/findings"


@pytest.fixture
def security(reviewers):
    return reviewers["security"][0]


def test_the_list_is_filtered_by_status_and_severity_and_shows_what_blocks_the_gate(
    api, agent, owner
):
    critical = DriftFindingFactory(agent=agent)
    high = DriftFindingFactory(agent=agent, identifier="crm.export", severity="high")
    DriftFindingFactory(agent=agent, identifier="old", status=FindingStatus.RESOLVED)
    DriftFindingFactory(agent=AgentFactory(slug="other-bot"))
    client = api(owner, Scope.AGENTS_READ)
    body = client.get(BASE).json()
    assert body["count"] == 3
    live = client.get(BASE, {"status": ["open", "acknowledged"]}).json()["results"]
    assert {f["id"] for f in live} == {critical.pk, high.pk}
    only = client.get(BASE, {"severity": "critical", "status": "open"}).json()["results"]
    assert [(f["id"], f["blocks_gate"], f["agent"]) for f in only] == [
        (critical.pk, True, "support-assistant")
    ]
    one = client.get(f"{BASE}/{high.pk}").json()
    assert (one["identifier"], one["blocks_gate"]) == ("crm.export", False)
    refused = client.get(BASE, {"severity": "urgent"})
    assert refused.status_code == 400
    assert "severity" in error_of(refused)["fields"]


def test_the_list_runs_the_same_queries_for_any_number_of_findings(api, agent, owner):
    client = api(owner)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(BASE).status_code == 200
        return len(captured)

    DriftFindingFactory(agent=agent)
    queries()  # the token's first use records last_used_at
    few = queries()
    for n in range(20):
        DriftFindingFactory(agent=agent, identifier=f"tool-{n}")
    assert queries() == few


def test_security_acknowledges_then_resolves_over_the_api_and_the_gate_opens(
    api, workflow, agent, security, audit_since
):
    package = workflow.approve(agent)
    finding = DriftFindingFactory(agent=agent)
    gate = api(security, Scope.GATE_CHECK)
    reviewer = api(security, Scope.REVIEWS_WRITE)

    def decision():
        body = {"agent": agent.slug, "digest": package.digest}
        return gate.post(GATE, body, format="json").json()["decision"]

    assert decision() == "deny"
    since = audit_since()
    answer = reviewer.post(f"{BASE}/{finding.pk}/acknowledge", {}, format="json")
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["blocks_gate"]) == ("acknowledged", True)
    assert decision() == "deny", "an acknowledged critical finding still denies"
    again = reviewer.post(f"{BASE}/{finding.pk}/acknowledge", {}, format="json")
    assert (again.status_code, error_of(again)["code"]) == (409, "finding_not_open")
    answer = reviewer.post(
        f"{BASE}/{finding.pk}/resolve", {"resolution": "Tool removed."}, format="json"
    )
    assert answer.status_code == 200
    assert (answer.json()["status"], answer.json()["resolution"]) == ("resolved", "Tool removed.")
    assert decision() == "allow"
    actions = [e.action for e in since() if e.action.startswith("drift.")]
    assert actions == ["drift.acknowledged", "drift.resolved"]
    late = reviewer.post(f"{BASE}/{finding.pk}/resolve", {"resolution": "x"}, format="json")
    assert (late.status_code, error_of(late)["code"]) == (409, "finding_resolved")


@pytest.mark.parametrize("body", [{}, {"resolution": "   "}, {"resolution": "x" * 2001}])
def test_resolving_without_a_usable_reason_names_the_field_and_changes_nothing(
    api, agent, security, audit_since, body
):
    finding = DriftFindingFactory(agent=agent)
    client = api(security, Scope.REVIEWS_WRITE)
    since = audit_since()
    response = client.post(f"{BASE}/{finding.pk}/resolve", body, format="json")
    assert response.status_code == 400
    assert "resolution" in error_of(response)["fields"]
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN
    assert since() == []


def test_handling_a_finding_needs_the_reviews_scope(api, agent, security, audit_since):
    finding = DriftFindingFactory(agent=agent)
    client = api(security, Scope.GATE_CHECK)
    since = audit_since()
    response = client.post(f"{BASE}/{finding.pk}/acknowledge", {}, format="json")
    assert (response.status_code, error_of(response)["code"]) == (403, "insufficient_scope")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN
    assert since() == []


def test_a_security_reviewer_who_owns_the_agent_is_refused(
    api, workflow, agent, owner, security, audit_since
):
    package = workflow.approve(agent)
    agent.owners.add(security)
    finding = DriftFindingFactory(agent=agent, package=package)
    client = api(security, Scope.REVIEWS_WRITE)
    since = audit_since()
    for action, body in (("acknowledge", {}), ("resolve", {"resolution": "Mine, fine."})):
        response = client.post(f"{BASE}/{finding.pk}/{action}", body, format="json")
        assert (response.status_code, error_of(response)["code"]) == (403, "owner_review")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.OPEN
    assert since() == []


def test_another_agents_finding_is_not_found_under_this_agent(api, agent, security):
    elsewhere = DriftFindingFactory(agent=AgentFactory(slug="other-bot"))
    client = api(security)
    assert client.get(f"{BASE}/{elsewhere.pk}").status_code == 404
    response = client.post(f"{BASE}/{elsewhere.pk}/acknowledge", {}, format="json")
    assert response.status_code == 404
    elsewhere.refresh_from_db()
    assert elsewhere.status == FindingStatus.OPEN
