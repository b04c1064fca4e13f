"""The gate, the AuthZEN endpoint and the exported Cedar bundle give the same answer.

For every approved entry all three allow; for every single-step expansion of an
entry or of the package (the request asks it, the manifest declares it) all
three deny; at an approval's expiry and at the end of an emergency approval's
time box all three stop allowing together. The Cedar answers come from the real
engine (cedarpy).
"""

import copy
import json
import math
import time
from datetime import timedelta

import cedarpy
import pytest
from django.utils import timezone

from approvals import manifest as manifests
from approvals.gate import gate_check
from approvals.models import ApprovalPackage, EmergencyApproval
from audit.actors import Actor
from runtime.cedar import cedar_request
from runtime.requests import Evaluation
from tests.approvals.emergency import emergency_grant
from tests.factories import manifest_for
from tests.runtime.conftest import EVALUATION

pytestmark = pytest.mark.django_db
CI = Actor.system("ci")
KEYS = {"action": "actions", "tool": "tools", "dataset": "datasets", "endpoint": "endpoints",
        "external_api": "external_apis"}  # fmt: skip


def cedar_allows(bundle, evaluation):
    request = cedar_request(evaluation, bundle, int(time.time()))
    return cedarpy.is_authorized(
        request, bundle["policies"], bundle["entities"], schema=bundle["schema"]
    ).allowed


def authzen_allows(client, evaluation):
    response = client.post(EVALUATION, evaluation.as_request(), format="json")
    assert response.status_code == 200, response.content
    return response.json()["decision"]


def gate_allows(agent, doc):
    result = gate_check(actor=CI, agent_slug=agent.slug, manifest=manifests.load_manifest(doc))
    return result.decision == "allow", [reason["code"] for reason in result.reasons]


@pytest.fixture
def answers(approved, agent, gateway):
    bundle = json.loads(gateway.get(f"/api/v1/agents/{agent.slug}/policy").content)

    def ask(evaluation, doc):
        return (
            cedar_allows(bundle, evaluation),
            authzen_allows(gateway, evaluation),
            gate_allows(agent, doc)[0],
        )

    return ask


def only_entry(doc, kind, ident):
    """The approved manifest narrowed to one entry: a manifest declaring just this use."""
    narrowed = copy.deepcopy(doc)
    for key in KEYS.values():
        narrowed["scope"][key] = [
            e for e in narrowed["scope"].get(key, []) if key == KEYS[kind] and e["id"] == ident
        ]
    return narrowed


def test_every_approved_entry_is_allowed_by_all_three(answers, agent):
    doc = manifest_for(agent)
    entries = [(kind, e) for kind, key in KEYS.items() for e in doc["scope"][key]]
    assert len(entries) == 8
    for kind, entry in entries:
        evaluation = Evaluation("agent", agent.slug, entry["access"], kind, entry["id"], {})
        assert answers(evaluation, only_entry(doc, kind, entry["id"])) == (True, True, True), entry


def _entry(doc, key, ident):
    return next(e for e in doc["scope"][key] if e["id"] == ident)


def _set(key, ident, **fields):
    def change(doc):
        _entry(doc, key, ident).update(fields)

    return change


def _add(key, ident, access):
    def change(doc):
        doc["scope"][key].append({"id": ident, "access": access})

    return change


def _package(block, **fields):
    def change(doc):
        doc[block].update(fields)

    return change


# Each: what the request asks, and the manifest change declaring the same widening.
EXPANSIONS = {
    "new tool": (("read", "tool", "shell", {}), _add("tools", "shell", "read")),
    "read -> write": (
        ("write", "tool", "kb-search", {}),
        _set("tools", "kb-search", access="write"),
    ),
    "write -> admin": (("admin", "tool", "zendesk", {}), _set("tools", "zendesk", access="admin")),
    "new external API": (
        ("read", "external_api", "https://api.other.example/v1", {}),
        _add("external_apis", "https://api.other.example/v1", "read"),
    ),
    "new dataset": (
        ("read", "dataset", "hr.salaries", {}),
        _add("datasets", "hr.salaries", "read"),
    ),
    "privileged flag": (
        ("read", "tool", "kb-search", {"privileged": True}),
        _set("tools", "kb-search", privileged=True),
    ),
    "wider trust boundary": (
        ("read", "tool", "kb-search", {"trust_boundary": "external"}),
        _set("tools", "kb-search", trust_boundary="external"),
    ),
    "higher classification": (
        ("read", "dataset", "orders.history", {"classification": "confidential"}),
        _set("datasets", "orders.history", classification="confidential"),
    ),
    "longer credential TTL": (
        ("read", "tool", "kb-search", {"credential_ttl_seconds": 901}),
        _package("credentials", max_ttl_seconds=901),
    ),
    "weaker credential method": (
        ("read", "tool", "kb-search", {"credential_method": "static_secret"}),
        _package("credentials", method="static_secret"),
    ),
    "deeper chaining": (
        ("read", "tool", "kb-search", {"chain_depth": 3}),
        _package("chaining", max_depth=3),
    ),
}


@pytest.mark.parametrize("name", list(EXPANSIONS))
def test_every_single_step_expansion_is_denied_by_all_three(answers, agent, name):
    (action, kind, ident, claims), change = EXPANSIONS[name]
    doc = manifest_for(agent)
    change(doc)
    evaluation = Evaluation("agent", agent.slug, action, kind, ident, claims)
    assert answers(evaluation, doc) == (False, False, False)
    assert gate_allows(agent, doc)[1] == ["scope_mismatch"]


def test_chaining_where_none_was_approved_is_denied_by_all_three(workflow, agent, gateway):
    doc = manifest_for(agent)
    doc["chaining"] = {"allowed": False, "max_depth": 0}
    workflow.approve(agent, doc)
    bundle = json.loads(gateway.get(f"/api/v1/agents/{agent.slug}/policy").content)
    direct = Evaluation("agent", agent.slug, "read", "tool", "kb-search", {"chain_depth": 0})
    chained = Evaluation("agent", agent.slug, "read", "tool", "kb-search", {"chain_depth": 1})
    assert cedar_allows(bundle, direct) and authzen_allows(gateway, direct)
    assert gate_allows(agent, doc)[0]
    doc["chaining"] = {"allowed": True, "max_depth": 1}
    assert (cedar_allows(bundle, chained), authzen_allows(gateway, chained)) == (False, False)
    assert gate_allows(agent, doc) == (False, ["scope_mismatch"])


# Seconds the sweep asks on each side of the instant, and the least time the test has to
# store the instant and fetch a bundle before the sweep starts: a round takes milliseconds,
# and these leave room for a loaded machine.
SWEEP_SECONDS = 2
SETUP_SECONDS = 3


def _soon(written):
    """Return the instant `written` moved by whole seconds to fall SETUP_SECONDS +
    SWEEP_SECONDS to a second more from now.

    Moved by whole seconds, the instant keeps the sub-second part it was written with.
    """
    ahead = timedelta(seconds=SETUP_SECONDS + SWEEP_SECONDS)
    shift = math.floor((written - timezone.now() - ahead).total_seconds())
    return written - timedelta(seconds=shift)


def _sweep(instant, ask):
    """Ask the three answers again and again from SWEEP_SECONDS before `instant` to
    SWEEP_SECONDS after it; each time all three must allow before it and deny from it.

    A round during which the instant passed (it takes a few milliseconds) proves nothing
    and is left out.
    """
    edge = instant.timestamp()
    while time.time() < edge - SWEEP_SECONDS:
        time.sleep(0.01)
    seen = set()
    while time.time() < edge + SWEEP_SECONDS:
        started = time.time()
        answers = ask()
        ended = time.time()
        if started < edge <= ended:
            continue
        allowed = ended < edge
        assert answers == (allowed, allowed, allowed), (
            f"(gate, decision point, Cedar) {answers} at {started - edge:+.3f} s from the end"
        )
        seen.add(allowed)
    assert seen == {True, False}


def _three(agent, gateway, bundle, evaluation, digest):
    def ask():
        gate = gate_check(actor=CI, agent_slug=agent.slug, digest=digest)
        cedar = cedar_allows(bundle, evaluation)  # the gateway's clock, in whole seconds
        return gate.decision == "allow", authzen_allows(gateway, evaluation), cedar

    return ask


def test_at_the_approvals_expiry_all_three_stop_allowing_together(workflow, agent, gateway):
    approved = workflow.approve(agent)
    expires_at = _soon(approved.expires_at)
    ApprovalPackage.objects.filter(pk=approved.pk).update(expires_at=expires_at)
    # The bundle a gateway fetched before the expiry, which it enforces without a new poll.
    bundle = json.loads(gateway.get(f"/api/v1/agents/{agent.slug}/policy").content)
    evaluation = Evaluation("agent", agent.slug, "read", "tool", "kb-search", {})
    _sweep(expires_at, _three(agent, gateway, bundle, evaluation, approved.digest))


def test_at_the_end_of_an_emergency_all_three_stop_allowing_together(
    workflow, agent, approved, gateway
):
    doc = manifest_for(agent)
    doc["scope"]["tools"].append(
        {"id": "refund-issue-2", "access": "write", "justification": "The incident's fix."}
    )
    second = workflow.submit(agent, doc)
    emergency = emergency_grant(workflow, second)
    ends_at = _soon(emergency.ends_at)
    EmergencyApproval.objects.filter(pk=emergency.pk).update(ends_at=ends_at)
    bundle = json.loads(gateway.get(f"/api/v1/agents/{agent.slug}/policy").content)
    # Only the emergency version holds this use.
    evaluation = Evaluation("agent", agent.slug, "write", "tool", "refund-issue-2", {})
    _sweep(ends_at, _three(agent, gateway, bundle, evaluation, second.digest))
