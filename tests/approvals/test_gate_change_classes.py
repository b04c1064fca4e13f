"""At the gate, every manifest field behaves as its change class says.

One approved manifest, then one check per change of one field: a scope
expansion is denied as scope_mismatch and a narrowing allowed, any commitment
change is denied as commitment_changed naming the field, narrative passes.
"""

import copy
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone

from approvals import manifest as manifests
from approvals.gate import ALLOW, DENY, gate_check
from approvals.models import PackageState
from audit.actors import Actor
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db
CI = Actor.system("ci")
WIDER, NARROWER, OTHER = "wider", "narrower", "other"


def _entry(key: str, suffix: str, privileged: bool) -> dict:
    return {
        "id": f"{key}-{suffix}",
        "access": "write",
        "trust_boundary": "external",
        "classification": "confidential",
        "privileged": privileged,
        "constraints": {"max_amount": 10},
        "justification": "Needed.",
    }


def baseline(agent) -> dict:
    """The approved manifest: each ordered value in the middle of its rank, where one exists."""
    doc = manifest_for(agent)
    doc["scope"] = {
        key: [_entry(key, "lo", False), _entry(key, "hi", True)] for key in manifests.SCOPE_KINDS
    }
    doc["approval_valid_days"] = 60
    doc["credentials"].update(method="vault_dynamic", max_ttl_seconds=900, jit=True)
    doc["chaining"] = {"allowed": False, "max_depth": 0}
    doc["human_in_the_loop"] = {"writes": True, "privileged": True}
    doc["emergency_access"] = {"break_glass": False, "procedure": "Page the PAM on-call."}
    return doc


def setting(path: str, value) -> Callable[[dict], None]:
    """Return a change that sets the dotted path (None deletes it)."""

    def change(doc: dict) -> None:
        *parents, last = path.split(".")
        for part in parents:
            doc = doc[part]
        if value is None:
            doc.pop(last, None)
        else:
            doc[last] = value

    return change


def on_entry(key: str, suffix: str, field: str, value) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        next(e for e in doc["scope"][key] if e["id"] == f"{key}-{suffix}")[field] = value

    return change


def adding_entry(key: str) -> Callable[[dict], None]:
    return lambda doc: doc["scope"][key].append({"id": f"{key}-new", "access": "read"})


def removing_entry(key: str) -> Callable[[dict], None]:
    def change(doc: dict) -> None:
        doc["scope"][key] = [e for e in doc["scope"][key] if not e["id"].endswith("-lo")]

    return change


def _entry_cases(key: str) -> dict[str, list]:
    path = f"scope.{key}[]"
    return {
        f"{path}.id": [(WIDER, adding_entry(key)), (NARROWER, removing_entry(key))],
        f"{path}.access": [
            (WIDER, on_entry(key, "lo", "access", "admin")),
            (NARROWER, on_entry(key, "lo", "access", "read")),
        ],
        f"{path}.trust_boundary": [
            (WIDER, on_entry(key, "lo", "trust_boundary", "third_party")),
            (NARROWER, on_entry(key, "lo", "trust_boundary", "internal")),
        ],
        f"{path}.classification": [
            (WIDER, on_entry(key, "lo", "classification", "restricted")),
            (NARROWER, on_entry(key, "lo", "classification", "internal")),
        ],
        f"{path}.privileged": [
            (WIDER, on_entry(key, "lo", "privileged", True)),
            (NARROWER, on_entry(key, "hi", "privileged", False)),
        ],
        f"{path}.constraints": [
            (WIDER, on_entry(key, "lo", "constraints", {"max_amount": 20})),
            (NARROWER, on_entry(key, "lo", "constraints", {"max_amount": 5})),
        ],
        f"{path}.justification": [(OTHER, on_entry(key, "lo", "justification", "Reworded."))],
    }


def _tested_yesterday(doc: dict) -> None:
    yesterday = timezone.now().date() - timedelta(days=1)
    doc["kill_switch"]["last_tested"] = yesterday.isoformat()


# Per field of the schema, changes of it alone (or with what the schema then requires).
CASES: dict[str, list[tuple[str, Callable[[dict], None]]]] = {
    "agent": [(OTHER, setting("agent", "another-agent"))],
    "name": [(OTHER, setting("name", "Renamed assistant"))],
    "team": [(OTHER, setting("team", "another-team"))],
    "deployment": [
        (WIDER, setting("deployment", "regulated_workflow")),
        (NARROWER, setting("deployment", "internal_copilot")),
    ],
    "risk_tier": [(OTHER, setting("risk_tier", "critical")), (OTHER, setting("risk_tier", None))],
    "description": [(OTHER, setting("description", "Now described."))],
    "approval_valid_days": [
        (WIDER, setting("approval_valid_days", 90)),
        (WIDER, setting("approval_valid_days", None)),
        (NARROWER, setting("approval_valid_days", 30)),
    ],
    "identity.workload_id": [
        (OTHER, setting("identity.workload_id", "spiffe://prod.example.com/ns/other/sa/x"))
    ],
    "identity.log_principal": [(OTHER, setting("identity.log_principal", "agent:other"))],
    "model.provider": [(OTHER, setting("model.provider", "other-llm"))],
    "model.id": [(OTHER, setting("model.id", "example-llm-huge-2027-01"))],
    "model.prompt_digest": [(OTHER, setting("model.prompt_digest", "sha256:" + "a" * 64))],
    **{path: cases for key in manifests.SCOPE_KINDS for path, cases in _entry_cases(key).items()},
    "credentials.method": [
        (WIDER, setting("credentials.method", "static_secret")),
        (NARROWER, setting("credentials.method", "spiffe_svid")),
    ],
    "credentials.max_ttl_seconds": [
        (WIDER, setting("credentials.max_ttl_seconds", 3600)),
        (NARROWER, setting("credentials.max_ttl_seconds", 300)),
    ],
    "credentials.jit": [(WIDER, setting("credentials.jit", False))],
    "credentials.revocation": [(OTHER, setting("credentials.revocation", "Rotate by hand."))],
    "enforcement.point": [
        (WIDER, setting("enforcement.point", "none")),
        (OTHER, setting("enforcement.point", "sidecar")),
    ],
    "enforcement.engine": [
        (WIDER, setting("enforcement.engine", "none")),
        (OTHER, setting("enforcement.engine", "opa")),
    ],
    "enforcement.mode": [(WIDER, setting("enforcement.mode", "monitor"))],
    "chaining.allowed": [(WIDER, setting("chaining.allowed", True))],
    "chaining.max_depth": [(WIDER, setting("chaining", {"allowed": True, "max_depth": 3}))],
    "human_in_the_loop.writes": [(WIDER, setting("human_in_the_loop.writes", False))],
    "human_in_the_loop.privileged": [(WIDER, setting("human_in_the_loop.privileged", False))],
    "kill_switch.procedure": [(OTHER, setting("kill_switch.procedure", "Unplug it."))],
    "kill_switch.owner": [(OTHER, setting("kill_switch.owner", "someone-else"))],
    "kill_switch.max_minutes_to_revoke": [
        (WIDER, setting("kill_switch.max_minutes_to_revoke", 60)),
        (NARROWER, setting("kill_switch.max_minutes_to_revoke", 1)),
    ],
    "kill_switch.webhook": [
        (WIDER, setting("kill_switch.webhook", None)),
        (OTHER, setting("kill_switch.webhook", "https://other.example.com/kill")),
    ],
    "kill_switch.last_tested": [(OTHER, _tested_yesterday)],
    "rollback.plan": [(OTHER, setting("rollback.plan", "Roll forward instead."))],
    "logging.destinations": [
        (OTHER, setting("logging.destinations", ["siem", "data-lake", "archive"])),
        (OTHER, setting("logging.destinations", ["siem"])),
    ],
    "logging.retention_days": [
        (WIDER, setting("logging.retention_days", 30)),
        (NARROWER, setting("logging.retention_days", 800)),
    ],
    "logging.attribution": [(OTHER, setting("logging.attribution", "By client id."))],
    "emergency_access.break_glass": [(WIDER, setting("emergency_access.break_glass", True))],
    "emergency_access.procedure": [(OTHER, setting("emergency_access.procedure", "Call PAM."))],
    "justification": [(OTHER, setting("justification", "Reworded reasons."))],
}


def check(agent, doc: dict):
    return gate_check(actor=CI, agent_slug=agent.slug, manifest=manifests.load_manifest(doc))


def codes(result) -> list[str]:
    return [reason["code"] for reason in result.reasons]


def test_every_field_of_the_schema_has_gate_cases():
    assert set(CASES) == set(manifests.FIELD_CLASSES)
    for path, cls in manifests.FIELD_CLASSES.items():
        directions = {direction for direction, _ in CASES[path]}
        if cls == manifests.SCOPE:
            assert directions & {WIDER, OTHER}, f"{path}: no change that must be denied"


def _expected(path: str, direction: str) -> tuple[str, list[str]]:
    cls = manifests.FIELD_CLASSES[path]
    if cls == manifests.COMMITMENT:
        return DENY, ["commitment_changed"]
    if cls == manifests.NARRATIVE or direction == NARROWER:
        return ALLOW, []
    return DENY, ["scope_mismatch"]


def test_every_field_behaves_at_the_gate_as_its_class_says(workflow, agent):
    approved_doc = baseline(agent)
    approved = workflow.approve(agent, approved_doc)
    assert approved.state == PackageState.APPROVED
    failures = []
    for path, cases in CASES.items():
        for direction, change in cases:
            doc = copy.deepcopy(approved_doc)
            change(doc)
            result = check(agent, doc)
            outcome = (result.decision, codes(result))
            if outcome != _expected(path, direction):
                failures.append((path, direction, outcome, result.reasons))
                continue
            if outcome[1] == ["commitment_changed"]:
                reason = result.reasons[0]
                if reason["changed_fields"] != [path] or path not in reason["message"]:
                    failures.append((path, direction, reason))
            if outcome[1] == ["scope_mismatch"] and not result.reasons[0]["expansions"]:
                failures.append((path, direction, "no expansions listed"))
    assert not failures, "\n".join(map(str, failures))


def test_the_approved_manifest_itself_is_allowed_fast_by_its_digest(workflow, agent):
    approved = workflow.approve(agent, baseline(agent))
    result = check(agent, baseline(agent))
    assert (result.decision, result.digest) == (ALLOW, approved.digest)


def test_an_expansion_and_a_commitment_change_are_both_named(workflow, agent):
    workflow.approve(agent, baseline(agent))
    doc = baseline(agent)
    doc["credentials"]["max_ttl_seconds"] = 86400
    doc["kill_switch"]["owner"] = "nobody"
    doc["rollback"]["plan"] = "None."
    doc["description"] = "Reworded."
    result = check(agent, doc)
    assert (result.decision, codes(result)) == (DENY, ["scope_mismatch", "commitment_changed"])
    expansions = result.reasons[0]["expansions"]
    assert [c["identifier"] for c in expansions] == ["credentials.max_ttl_seconds"]
    assert result.reasons[1]["changed_fields"] == ["kill_switch.owner", "rollback.plan"]
    assert result.reasons[1]["message"] == (
        "The manifest changes commitments approved in v1: kill_switch.owner, rollback.plan."
    )


def test_a_commitment_change_is_denied_on_every_check_and_audited(workflow, agent, audit_since):
    workflow.approve(agent, baseline(agent))
    doc = baseline(agent)
    doc["logging"]["attribution"] = "Nobody."
    since = audit_since()
    first, again = check(agent, doc), check(agent, doc)
    assert codes(first) == codes(again) == ["commitment_changed"]
    events = since()
    assert [e.action for e in events] == ["gate.checked", "gate.checked"]
    assert all(e.data["reasons"] == ["commitment_changed"] for e in events)
    assert all(e.data["decision"] == DENY for e in events)
