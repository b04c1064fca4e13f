"""Over generated manifests and requests, the Cedar bundle answers as the decision point does."""

import copy
import time

import cedarpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.vocabulary import Access, Classification, CredentialMethod, TrustBoundary
from approvals.manifest import load_manifest
from runtime.cedar import NAMESPACE, cedar_request, cedar_schema, policies_for
from runtime.decision import scope_of, within
from runtime.requests import Evaluation
from tests.factories import example

SLUG = "support-assistant"
KEYS = {"action": "actions", "tool": "tools", "dataset": "datasets", "endpoint": "endpoints",
        "external_api": "external_apis"}  # fmt: skip
IDS = ["a", "b", "x.y", "https://api.example.com/v1", 'q"uote', "back\\slash", "ünï"]

entry = st.fixed_dictionaries(
    {"access": st.sampled_from(Access.values)},
    optional={
        "privileged": st.booleans(),
        "trust_boundary": st.sampled_from(TrustBoundary.values),
        "classification": st.sampled_from(Classification.values),
    },
)
scope = st.fixed_dictionaries(
    {key: st.dictionaries(st.sampled_from(IDS), entry, max_size=3) for key in KEYS.values()}
)
package = st.fixed_dictionaries(
    {
        "scope": scope,
        "chaining": st.fixed_dictionaries(
            {"allowed": st.booleans(), "max_depth": st.integers(0, 4)}
        ),
        "ttl": st.integers(1, 3600),
        "method": st.sampled_from(CredentialMethod.values),
    }
)


def claims_near(generated: dict):
    """Claims around the package's own values, where a wrong bound would show."""
    depth, ttl = generated["chaining"]["max_depth"], generated["ttl"]
    return st.fixed_dictionaries(
        {},
        optional={
            "privileged": st.booleans(),
            "trust_boundary": st.sampled_from([*TrustBoundary.values, "elsewhere"]),
            "classification": st.sampled_from([*Classification.values, "secret"]),
            "chain_depth": st.integers(max(0, depth - 1), depth + 1),
            "credential_ttl_seconds": st.integers(max(1, ttl - 1), ttl + 1),
            "credential_method": st.sampled_from([*CredentialMethod.values, "password"]),
        },
    )


def requests_for(generated: dict):
    """Requests mostly for approved entries, some for entries or kinds never approved."""
    approved = [(kind, ident) for kind, key in KEYS.items() for ident in generated["scope"][key]]
    target = st.tuples(st.sampled_from([*KEYS, "model"]), st.sampled_from([*IDS, "never"]))
    if approved:
        target = st.one_of(st.sampled_from(approved), st.sampled_from(approved), target)
    return st.tuples(st.sampled_from([*Access.values, "delete"]), target, claims_near(generated))


def manifest_of(generated: dict) -> dict:
    doc = copy.deepcopy(example("support-agent.yaml"))
    doc["agent"] = SLUG
    doc["scope"] = {
        key: [{"id": ident, **fields} for ident, fields in entries.items()]
        for key, entries in generated["scope"].items()
    }
    chaining = generated["chaining"]
    doc["chaining"] = {**chaining, "max_depth": chaining["max_depth"] if chaining["allowed"] else 0}
    doc["credentials"]["max_ttl_seconds"] = generated["ttl"]
    doc["credentials"]["method"] = generated["method"]
    return load_manifest(doc)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(package, st.data())
def test_cedar_answers_as_the_decision_point(generated, data):
    manifest = manifest_of(generated)
    requests = data.draw(st.lists(requests_for(generated), min_size=1, max_size=12))
    now = int(time.time())
    policies, entities = policies_for(SLUG, manifest, now + 3600)
    agent = {"uid": {"type": f"{NAMESPACE}::Agent", "id": SLUG}, "attrs": {"workload_id": "w"}}
    bundle = {"agent": SLUG, "workload_id": "w"}
    approved = scope_of(manifest)
    evaluations = [
        Evaluation("agent", SLUG, action, kind, ident, claims)
        for action, (kind, ident), claims in requests
    ]
    results = cedarpy.is_authorized_batch(
        [cedar_request(evaluation, bundle, now) for evaluation in evaluations],
        policies,
        [{**agent, "parents": []}, *entities],
        schema=cedar_schema(),
    )
    for evaluation, result in zip(evaluations, results, strict=True):
        assert result.allowed == within(approved, evaluation), (evaluation, policies)
