"""Validating a manifest: the schema, and errors that name each field at fault and why."""

import copy
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from agents.identity import SPIFFE_ID_PATTERN, spiffe_id_errors
from agents.vocabulary import (
    Access,
    Classification,
    CredentialMethod,
    Deployment,
    EnforcementMode,
    EnforcementPoint,
    PolicyEngine,
    RiskTier,
    ScopeKind,
    TrustBoundary,
)
from approvals import manifest as m
from tests.approvals.manifest.helpers import (
    HR,
    SUPPORT,
    errors_of,
    example,
    example_text,
    with_change,
)


def test_schema_is_valid_draft_2020_12():
    schema = m.manifest_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_enums_are_the_vocabulary():
    schema = m.manifest_schema()
    entry_props = schema["$defs"]["entry"]["properties"]
    assert entry_props["access"]["enum"] == Access.values == list(m.ACCESS_ORDER)
    assert entry_props["classification"]["enum"] == Classification.values
    assert list(m.CLASSIFICATION_ORDER) == Classification.values
    assert entry_props["trust_boundary"]["enum"] == TrustBoundary.values
    assert list(m.BOUNDARY_ORDER) == TrustBoundary.values
    assert schema["properties"]["deployment"]["enum"] == Deployment.values
    assert list(m.DEPLOYMENT_ORDER) == Deployment.values
    assert schema["properties"]["risk_tier"]["enum"] == [*RiskTier.values, None]
    methods = schema["properties"]["credentials"]["properties"]["method"]["enum"]
    assert set(methods) == set(CredentialMethod.values)
    assert list(m.CREDENTIAL_METHOD_ORDER) == CredentialMethod.values
    enforcement = schema["properties"]["enforcement"]["properties"]
    assert enforcement["point"]["enum"] == EnforcementPoint.values
    assert enforcement["engine"]["enum"] == PolicyEngine.values
    assert enforcement["mode"]["enum"] == EnforcementMode.values
    assert list(schema["properties"]["scope"]["properties"]) == list(m.SCOPE_KINDS)
    assert list(m.KIND_BY_KEY.values()) == ScopeKind.values
    assert {m.KEY_BY_KIND[kind] for kind in m.KIND_BY_KEY.values()} == set(m.SCOPE_KINDS)


def test_manifest_schema_returns_a_copy():
    m.manifest_schema()["properties"].clear()
    assert "agent" in m.manifest_schema()["properties"]


@pytest.mark.parametrize("name", [SUPPORT, HR])
def test_examples_validate(name):
    doc = m.load_manifest(example_text(name))
    assert doc["agent"] == example(name)["agent"]


@pytest.mark.parametrize(
    ("workload_id", "problem"),
    [
        ("https://prod.example.com/ns/x", "must start with 'spiffe://'"),
        ("SPIFFE://prod.example.com/ns/x", "must start with 'spiffe://'"),
        ("spiffe://Prod.Example.com/ns/x", "trust domain"),
        ("spiffe://prod.example.com:8080/ns/x", "trust domain"),
        ("spiffe://user@prod.example.com/ns/x", "trust domain"),
        ("spiffe:///ns/x", "trust domain"),
        ("spiffe://prod.example.com", "must have a workload path"),
        ("spiffe://prod.example.com/", "must have a workload path"),
        ("spiffe://prod.example.com/ns/x/", "must not end with '/'"),
        ("spiffe://prod.example.com/ns//x", "empty path segments"),
        ("spiffe://prod.example.com/ns/../x", "'.' or '..'"),
        ("spiffe://prod.example.com/./x", "'.' or '..'"),
        ("spiffe://prod.example.com/ns/x?debug=1", "query or fragment"),
        ("spiffe://prod.example.com/ns/x#frag", "query or fragment"),
        ("spiffe://prod.example.com/ns/a%20b", "path segments of only"),
        ("spiffe://prod.example.com/ns/x\n", "path segments of only"),
    ],
)
def test_bad_spiffe_ids_are_reported_on_the_field(hr, workload_id, problem):
    errors = errors_of(with_change(hr, "identity.workload_id", workload_id))
    assert list(errors) == ["identity.workload_id"]
    assert any(problem in message for message in errors["identity.workload_id"])


@pytest.mark.parametrize(
    "workload_id",
    ["spiffe://example.org/a", "spiffe://a_b-c.d/ns/Team_1/sa/x.y-z", "spiffe://td/.../x"],
)
def test_good_spiffe_ids_pass(hr, workload_id):
    assert spiffe_id_errors(workload_id) == []
    assert m.load_manifest(with_change(hr, "identity.workload_id", workload_id))


_SPIFFE_PATTERN = re.compile(m.manifest_schema()["$defs"]["spiffe_id"]["pattern"][:-1] + r"\Z")


def test_the_agents_spiffe_pattern_is_the_manifests():
    assert m.manifest_schema()["$defs"]["spiffe_id"]["pattern"] == SPIFFE_ID_PATTERN


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="spiffe:/aZ0._-?#@%\n", max_size=30),
        st.text(alphabet="aZ0._-/?#", max_size=30).map(lambda s: "spiffe://" + s),
    )
)
def test_spiffe_explanations_agree_with_the_schema_pattern(value):
    assert (spiffe_id_errors(value) == []) == bool(_SPIFFE_PATTERN.search(value))


def test_missing_required_fields_are_reported_on_their_own_paths(hr):
    doc = copy.deepcopy(hr)
    del doc["rollback"]
    del doc["kill_switch"]["owner"]
    del doc["scope"]["datasets"][0]["access"]
    errors = errors_of(doc)
    assert errors == {
        "rollback": ["is required"],
        "kill_switch.owner": ["is required"],
        "scope.datasets[0].access": ["is required"],
    }


def test_bad_access_enum_at_a_nested_index(support):
    doc = copy.deepcopy(support)
    doc["scope"]["actions"][1]["access"] = "superuser"
    errors = errors_of(doc)
    assert errors == {
        "scope.actions[1].access": ["must be one of: read, write, execute, admin (got 'superuser')"]
    }


def test_duplicate_ids_within_a_kind(support):
    doc = copy.deepcopy(support)
    doc["scope"]["tools"].append({"id": "zendesk", "access": "read"})
    errors = errors_of(doc)
    assert list(errors) == ["scope.tools[2].id"]
    assert "duplicate id 'zendesk'" in errors["scope.tools[2].id"][0]


def test_same_id_in_different_kinds_is_fine(support):
    doc = copy.deepcopy(support)
    doc["scope"]["datasets"].append({"id": "zendesk", "access": "read"})
    assert m.load_manifest(doc)["scope"]["datasets"][-1]["id"] == "zendesk"


def test_wrong_types_are_all_reported(hr):
    doc = copy.deepcopy(hr)
    doc["credentials"]["max_ttl_seconds"] = "3600"
    doc["credentials"]["jit"] = "no"
    doc["logging"]["retention_days"] = True
    doc["scope"]["tools"] = {"id": "policy-search"}
    doc["chaining"]["allowed"] = 1
    doc["kill_switch"]["webhook"] = 3
    errors = errors_of(doc)
    assert errors == {
        "credentials.max_ttl_seconds": ["must be a whole number, not text"],
        "credentials.jit": ["must be true or false, not text"],
        "logging.retention_days": ["must be a whole number, not true or false"],
        "scope.tools": ["must be a list, not a mapping"],
        "chaining.allowed": ["must be true or false, not a whole number"],
        "kill_switch.webhook": ["must be text, not a whole number"],
    }


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("agent", "Support_Agent", "must be 2 to 63 lowercase letters, digits or '-'"),
        ("agent", "support-agent\n", "must be 2 to 63 lowercase letters, digits or '-'"),
        ("name", "   ", "must contain some text, not only whitespace"),
        ("deployment", "public", "must be one of: internal_copilot, customer_facing,"),
        ("risk_tier", "extreme", "must be one of: low, medium, high, critical (got 'extreme')"),
        ("approval_valid_days", 366, "must be at most 365"),
        ("approval_valid_days", 0, "must be at least 1"),
        ("model.prompt_digest", "sha256:ABC", "sha256:"),
        ("credentials.method", "password", "must be one of: spiffe_svid,"),
        ("credentials.max_ttl_seconds", 2592001, "must be at most 2592000"),
        ("enforcement.engine", "rego", "must be one of:"),
        ("chaining.max_depth", 21, "must be at most 20"),
        ("kill_switch.max_minutes_to_revoke", 0, "must be at least 1"),
        ("kill_switch.webhook", "ftp://example.com/kill", "must be an http:// or https:// URL"),
        ("kill_switch.webhook", "https://user:pw@example.com/kill", "without embedded"),
        ("kill_switch.last_tested", "2026-02-30", "must be a valid date (got '2026-02-30')"),
        ("kill_switch.last_tested", "12/11/2026", "must be a valid date"),
        ("logging.destinations", [], "must list at least 1 item(s)"),
        ("logging.destinations", ["siem", "siem"], "must not list the same item twice"),
        ("logging.retention_days", 3651, "must be at most 3650"),
        ("surprise", True, "is not an allowed field (expected one of: agent, name,"),
        ("scope.plugins", [], "is not an allowed field"),
        ("identity.region", "eu", "is not an allowed field"),
    ],
)
def test_invalid_values_are_reported_on_their_path_with_the_reason(support, path, value, message):
    errors = errors_of(with_change(support, path, value))
    assert list(errors) == [path]
    assert any(message in text for text in errors[path]), errors


def test_a_long_entry_id_is_reported_with_its_limit(hr):
    doc = copy.deepcopy(hr)
    doc["scope"]["tools"][0]["id"] = "x" * 513
    assert errors_of(doc) == {"scope.tools[0].id": ["must be at most 512 characters long"]}


def test_unknown_scope_kind_names_the_allowed_kinds(hr):
    errors = errors_of(with_change(hr, "scope.plugins", [{"id": "x", "access": "read"}]))
    assert "actions, tools, datasets, endpoints, external_apis" in errors["scope.plugins"][0]


def test_unknown_entry_field_is_rejected_but_constraints_are_free(hr):
    doc = copy.deepcopy(hr)
    doc["scope"]["tools"][0]["owner"] = "me"
    assert list(errors_of(doc)) == ["scope.tools[0].owner"]
    doc["scope"]["tools"][0].pop("owner")
    doc["scope"]["tools"][0]["constraints"] = {"anything": {"nested": [1, 2]}}
    assert m.load_manifest(doc)["scope"]["tools"][0]["constraints"]["anything"]["nested"] == [1, 2]


def test_chaining_depth_needs_chaining_allowed(hr):
    errors = errors_of(with_change(hr, "chaining", {"allowed": False, "max_depth": 3}))
    assert errors == {"chaining.max_depth": ["must be 0 when chaining.allowed is false"]}


def test_break_glass_needs_a_procedure(hr):
    errors = errors_of(with_change(hr, "emergency_access", {"break_glass": True}))
    assert errors == {"emergency_access.procedure": ["is required when break_glass is true"]}
    ok = with_change(hr, "emergency_access", {"break_glass": True, "procedure": "Page PAM."})
    assert m.load_manifest(ok)["emergency_access"]["break_glass"] is True


def test_a_kill_switch_test_date_cannot_be_in_the_future(hr):
    today = datetime.now(UTC).date()
    for later in (today + timedelta(days=3), date(2099, 12, 31)):
        errors = errors_of(with_change(hr, "kill_switch.last_tested", later.isoformat()))
        assert list(errors) == ["kill_switch.last_tested"]
        assert errors["kill_switch.last_tested"] == [
            f"must not be in the future: {today + timedelta(days=1)} at the latest, the date "
            "it already is in the time zones furthest ahead of UTC"
        ]
    # Today in UTC, and tomorrow: already today in time zones ahead of UTC.
    for tested in (today, today + timedelta(days=1), today - timedelta(days=400)):
        loaded = m.load_manifest(with_change(hr, "kill_switch.last_tested", tested.isoformat()))
        assert loaded["kill_switch"]["last_tested"] == tested.isoformat()


def test_the_latest_test_date_is_the_day_after_today_in_utc():
    assert m.latest_test_date(date(2026, 12, 31)) == date(2027, 1, 1)


def test_all_errors_are_collected_at_once(support):
    doc = copy.deepcopy(support)
    doc["agent"] = "X"
    doc["identity"]["workload_id"] = "spiffe://prod/"
    doc["scope"]["actions"][0]["access"] = "all"
    del doc["justification"]
    assert set(errors_of(doc)) == {
        "agent",
        "identity.workload_id",
        "scope.actions[0].access",
        "justification",
    }


def test_manifest_error_is_a_value_error_with_a_summary():
    error = m.ManifestError({"agent": ["is required"]})
    assert isinstance(error, ValueError)
    assert "agent: is required" in str(error)


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(
    path=st.sampled_from(
        ["agent", "scope", "scope.tools", "chaining", "chaining.max_depth", "logging.destinations",
         "emergency_access", "identity.workload_id", "kill_switch", "credentials.jit", "model"]
    ),
    value=_JSON_VALUES,
)  # fmt: skip
def test_any_malformed_value_raises_only_manifest_error(path, value):
    doc = with_change(example(SUPPORT), path, value)
    try:
        normalized = m.load_manifest(doc)
    except m.ManifestError as error:
        assert all(isinstance(msgs, list) and msgs for msgs in error.errors.values())
    else:
        assert m.load_manifest(normalized) == normalized


def test_validity_follows_the_schema_regex_dialect_ecma_262(hr):
    """Patterns are ECMA-262's, as JSON Schema defines them.

    Python's `\\s` and ECMA's differ at the edges: U+FEFF is whitespace only in
    ECMA, U+001C only in Python.
    """
    assert errors_of(with_change(hr, "name", "\ufeff")) == {
        "name": ["must contain some text, not only whitespace"]
    }
    assert m.load_manifest(with_change(hr, "name", "\x1c"))["name"] == "\x1c"
