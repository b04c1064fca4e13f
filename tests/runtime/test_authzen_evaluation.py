"""POST /access/v1/evaluation: allow exactly the approved scope, deny the rest with reasons."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.models import ApprovalPackage
from approvals.retirement import agent_retire
from approvals.services import agent_suspend
from audit.actors import Actor
from runtime.decision import ENTRY_REASONS
from runtime.usage import PREFIX, SEP, usage_client
from tests.factories import AgentFactory, DriftFindingFactory, manifest_for
from tests.runtime.conftest import EVALUATION, EVALUATIONS, ask
from tokens.models import Scope

pytestmark = pytest.mark.django_db


def decision(response):
    assert response.status_code == 200, response.content
    answer = response.json()
    return answer["decision"], answer.get("context", {}).get("reasons", [])


@pytest.mark.parametrize(
    ("action", "kind", "ident"),
    [
        ("write", "action", "ticket.create"),
        ("execute", "action", "refund.issue"),
        ("write", "tool", "zendesk"),
        ("read", "tool", "zendesk"),
        ("read", "tool", "kb-search"),
        ("read", "dataset", "crm.customers"),
        ("execute", "endpoint", "https://payments.internal.example.com/v2/refunds"),
        ("read", "external_api", "https://api.example-translate.com/v1/translate"),
    ],
)
def test_an_approved_use_is_allowed(approved, gateway, agent, action, kind, ident):
    assert decision(ask(gateway, agent.slug, action, kind, ident)) == (True, [])


def test_the_subject_may_be_the_spiffe_id(approved, gateway, agent):
    assert decision(ask(gateway, agent.workload_id, "read", "tool", "kb-search")) == (True, [])
    unknown = "spiffe://prod.example.com/ns/other/sa/nobody"
    assert decision(ask(gateway, unknown, "read", "tool", "kb-search")) == (
        False,
        ["unknown_agent"],
    )


@pytest.mark.parametrize(
    ("action", "kind", "ident", "properties", "context"),
    [
        ("write", "tool", "kb-search", None, {}),  # read -> write
        ("admin", "tool", "zendesk", None, {}),  # write -> admin
        ("read", "tool", "shell", None, {}),  # a new tool
        ("read", "external_api", "https://api.other.example/v1", None, {}),  # a new external API
        ("read", "tool", "kb-search", {"privileged": True}, {}),  # privileged flag
        ("read", "tool", "kb-search", {"trust_boundary": "third_party"}, {}),  # new boundary
        ("read", "dataset", "orders.history", {"classification": "restricted"}, {}),
        ("read", "tool", "kb-search", None, {"chain_depth": 3}),  # deeper chaining
        ("read", "tool", "kb-search", None, {"credential_ttl_seconds": 901}),  # longer TTL
        ("read", "tool", "kb-search", None, {"credential_method": "static_secret"}),
        ("delete", "tool", "zendesk", None, {}),  # an access level nobody knows
        ("read", "model", "kb-search", None, {}),  # a kind nobody knows
    ],
)
def test_a_use_beyond_the_approval_is_denied(
    approved, gateway, agent, action, kind, ident, properties, context
):
    answer = ask(gateway, agent.slug, action, kind, ident, properties, **context)
    assert decision(answer) == (False, ["scope_mismatch"])
    assert answer.json()["context"] == {"reason": "scope_mismatch", "reasons": ["scope_mismatch"]}


def test_narrower_claims_are_allowed(approved, gateway, agent):
    answer = ask(
        gateway,
        agent.slug,
        "read",
        "action",
        "refund.issue",
        {"privileged": False, "trust_boundary": "internal"},
        chain_depth=2,
        credential_ttl_seconds=60,
        credential_method="spiffe_svid",
        end_user="customer-4711",
    )
    assert decision(answer) == (True, [])


def test_the_gate_reasons_deny(workflow, agent, gateway):
    assert decision(ask(gateway, "nobody", "read", "tool", "kb-search")) == (
        False,
        ["unknown_agent"],
    )
    workflow.submit(agent)
    assert decision(ask(gateway, agent.slug, "read", "tool", "kb-search")) == (
        False,
        ["no_approved_package"],
    )


def test_suspension_expiry_and_critical_drift_deny(approved, agent, gateway):
    DriftFindingFactory(agent=agent, package=approved)
    assert decision(ask(gateway, agent.slug, "read", "tool", "kb-search")) == (
        False,
        ["open_critical_drift"],
    )
    agent_suspend(actor=Actor.system("oncall"), agent=agent, reason="Test.")
    allowed, reasons = decision(ask(gateway, agent.slug, "read", "tool", "kb-search"))
    assert allowed is False
    assert reasons[0] == "agent_suspended" and "open_critical_drift" in reasons


def test_a_retired_agent_is_denied_as_the_gate_denies_it(approved, agent, gateway, api, owner):
    ci = api(owner, Scope.GATE_CHECK)
    agent_retire(actor=Actor.system("tests"), agent=agent, reason="Replaced.")
    allowed, reasons = decision(ask(gateway, agent.slug, "read", "tool", "kb-search"))
    assert allowed is False and reasons[0] == "agent_retired"
    body = {"agent": agent.slug, "digest": approved.digest}
    gate = ci.post("/api/v1/gate/check", body, format="json")
    assert reasons[0] in [reason["code"] for reason in gate.json()["reasons"]]


def test_an_expired_approval_denies(approved, agent, gateway):
    ApprovalPackage.objects.filter(pk=approved.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert decision(ask(gateway, agent.slug, "read", "tool", "kb-search")) == (
        False,
        ["approval_expired"],
    )


def _suspend(agent, package):
    agent_suspend(actor=Actor.system("oncall"), agent=agent, reason="Test.")


def _retire(agent, package):
    agent_retire(actor=Actor.system("tests"), agent=agent, reason="Replaced.")


def _expire(agent, package):
    ApprovalPackage.objects.filter(pk=package.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


def _drift(agent, package):
    DriftFindingFactory(agent=agent, package=package)


@pytest.mark.parametrize("change", [None, _suspend, _retire, _expire, _drift])
@pytest.mark.parametrize(
    ("action", "kind", "ident", "context"),
    [
        ("execute", "tool", "shell", {}),  # an entry never approved
        ("admin", "tool", "kb-search", {}),  # more access than approved
        ("read", "tool", "kb-search", {"chain_depth": 3}),  # a claim beyond the entry
    ],
)
def test_an_entry_code_is_given_only_while_the_agent_stands(
    approved, agent, gateway, change, action, kind, ident, context
):
    """A deny carrying an entry's code (ENTRY_REASONS) says the agent stands and only the
    entry asked goes beyond its scope: an enforcement point keeps its other allows across
    it. Whatever stops the whole agent is answered with the agent's code instead."""
    if change is not None:
        change(agent, approved)
    allowed, reasons = decision(ask(gateway, agent.slug, action, kind, ident, **context))
    assert allowed is False and reasons
    if change is None:
        assert set(reasons) <= ENTRY_REASONS
    else:
        assert not set(reasons) & ENTRY_REASONS


def test_a_token_bound_to_the_agent_may_ask_for_it_only(approved, agent, owner, api):
    runtime = api(owner, Scope.DECISIONS_EVALUATE, agents=[agent])
    assert decision(ask(runtime, agent.slug, "read", "tool", "kb-search")) == (True, [])
    other = AgentFactory(slug="other-agent", owners=[owner])
    assert decision(ask(runtime, other.slug, "read", "tool", "kb-search")) == (
        False,
        ["agent_not_bound"],
    )
    assert decision(ask(runtime, "nobody", "read", "tool", "kb-search")) == (
        False,
        ["agent_not_bound"],
    )


def test_credentials_are_refused_in_the_specifications_shape(approved, agent, staff, api):
    anonymous = APIClient()
    response = ask(anonymous, agent.slug, "read", "tool", "kb-search")
    assert response.status_code == 401
    assert isinstance(response.json(), str) and response.json()
    assert response["WWW-Authenticate"].startswith("Bearer")
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Bearer cs_nottherealsecret")
    response = ask(wrong, agent.slug, "read", "tool", "kb-search")
    assert response.status_code == 401 and isinstance(response.json(), str)
    no_scope = api(staff, Scope.GATE_CHECK)
    response = ask(no_scope, agent.slug, "read", "tool", "kb-search")
    assert response.status_code == 403
    assert response.json() == "This token lacks the decisions:evaluate scope."
    session = APIClient()
    session.force_login(staff)
    assert ask(session, agent.slug, "read", "tool", "kb-search").status_code == 401


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "The request must be a JSON object."),
        ({"action": {"name": "read"}, "resource": {"type": "tool", "id": "x"}}, "subject"),
        (
            {
                "subject": {"type": "agent", "id": 7},
                "action": {"name": "read"},
                "resource": {"type": "tool", "id": "x"},
            },
            "subject.id",
        ),
        (
            {
                "subject": {"type": "agent", "id": "a"},
                "action": {},
                "resource": {"type": "tool", "id": "x"},
            },
            "action.name",
        ),
        (
            {
                "subject": {"type": "agent", "id": "a"},
                "action": {"name": "read"},
                "resource": {"type": "tool", "id": "x"},
                "context": {"chain_depth": -1},
            },
            "context.chain_depth",
        ),
        (
            {
                "subject": {"type": "agent", "id": "a"},
                "action": {"name": "read"},
                "resource": {"type": "tool", "id": "x", "properties": {"privileged": "yes"}},
            },
            "resource.properties.privileged",
        ),
        (
            {
                "subject": {"type": "agent", "id": "a\x00b"},
                "action": {"name": "read"},
                "resource": {"type": "tool", "id": "x"},
            },
            "subject.id: Must not contain control or format characters (found U+0000).",
        ),
        (
            {
                "subject": {"type": "agent", "id": "a"},
                "action": {"name": "read"},
                "resource": {"type": "tool", "id": "x\u202ey"},
            },
            "resource.id: Must not contain control or format characters (found U+202E).",
        ),
    ],
)
def test_an_unreadable_request_is_400_with_a_message(gateway, body, message):
    response = gateway.post(EVALUATION, body, format="json")
    assert response.status_code == 400
    assert message in response.json()
    assert not list(usage_client().scan_iter(match=f"{PREFIX}*"))


def test_a_body_over_the_limit_is_400_before_it_is_read(approved, agent, gateway, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = {
        "subject": {"type": "agent", "id": agent.slug},
        "action": {"name": "read"},
        "resource": {"type": "tool", "id": "kb-search"},
        "context": {"padding": "x" * 1000},
    }
    for url in (EVALUATION, EVALUATIONS):
        response = gateway.post(url, body, format="json")
        assert response.status_code == 400
        assert response.json() == "The request body is larger than the limit of 1000 bytes."
    assert not list(usage_client().scan_iter(match=f"{PREFIX}*"))


def test_bad_json_is_400(gateway):
    response = gateway.post(EVALUATION, "{not json", content_type="application/json")
    assert response.status_code == 400 and isinstance(response.json(), str)


def test_unknown_fields_are_ignored(approved, agent, gateway):
    body = {
        "subject": {"type": "agent", "id": agent.slug, "properties": {"pod": "a-1"}},
        "action": {"name": "read", "properties": {"method": "GET"}},
        "resource": {"type": "tool", "id": "kb-search"},
        "context": {"time": "2026-12-04T10:00:00Z"},
        "extra": True,
    }
    assert decision(gateway.post(EVALUATION, body, format="json")) == (True, [])


def test_a_decision_writes_nothing_to_the_database(approved, agent, gateway):
    ask(gateway, agent.slug, "read", "tool", "kb-search")  # the token's last use is recorded
    with CaptureQueriesContext(connection) as queries:
        allowed = ask(gateway, agent.slug, "read", "tool", "kb-search")
        denied = ask(gateway, agent.slug, "write", "tool", "shell")
    assert decision(allowed)[0] is True and decision(denied)[0] is False
    statements = [q["sql"].split()[0].upper() for q in queries.captured_queries]
    assert set(statements) <= {"SELECT"}, statements
    # Two statements per decision: the token with its user, the decision row.
    assert len(statements) == 4
    # The uses are counted in Redis instead, per agent, kind, access, decision, asker,
    # identifier.
    client = usage_client()
    (key,) = client.scan_iter(match=f"{PREFIX}*")
    asker = str(gateway.token.user_id)
    assert client.hgetall(key) == {
        SEP.join((agent.slug, "tool", "read", "allow", asker, "kb-search")).encode(): b"2",
        SEP.join((agent.slug, "tool", "write", "deny", asker, "shell")).encode(): b"1",
    }


def test_a_new_approval_is_answered_at_once(approved, workflow, agent, gateway):
    assert decision(ask(gateway, agent.slug, "read", "tool", "shell"))[0] is False
    doc = manifest_for(agent)
    doc["scope"]["tools"].append({"id": "shell", "access": "read"})
    workflow.approve(agent, doc)
    assert decision(ask(gateway, agent.slug, "read", "tool", "shell")) == (True, [])


def test_discovery_names_the_endpoints(client):
    response = client.get("/.well-known/authzen-configuration")
    assert response.status_code == 200
    assert response.json() == {
        "policy_decision_point": "http://testserver",
        "access_evaluation_endpoint": "http://testserver/access/v1/evaluation",
        "access_evaluations_endpoint": "http://testserver/access/v1/evaluations",
    }
