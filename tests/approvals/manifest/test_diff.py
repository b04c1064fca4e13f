"""Diffing two manifests: every changed entry or field, and whether it widens the scope."""

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from approvals import manifest as m
from tests.approvals.manifest.helpers import (
    HR,
    SUPPORT,
    entry,
    example,
    example_text,
    with_change,
    with_entries,
)


def test_identical_manifests_have_an_empty_diff(support):
    diff = m.diff_manifests(support, copy.deepcopy(support))
    assert diff.is_empty
    assert not diff.is_expansion
    assert not diff.is_pure_narrowing
    assert diff.as_dict() == {
        "expansions": [],
        "commitments": [],
        "narrowings": [],
        "narrative": [],
        "is_expansion": False,
        "is_commitment_change": False,
        "is_pure_narrowing": False,
    }


def test_diff_normalizes_raw_input(hr):
    assert m.diff_manifests(example(HR), hr).is_empty


def test_first_version_is_all_expansions(support):
    diff = m.diff_manifests(None, support)
    assert diff.changes and diff.is_expansion
    assert all(c.change == "added" and c.classification == "expansion" for c in diff.changes)
    added_entries = {(c.kind, c.identifier) for c in diff.changes if c.field == "entry"}
    expected = {(m.KIND_BY_KEY[k], e["id"]) for k in m.SCOPE_KINDS for e in support["scope"][k]}
    assert expected <= added_entries
    package = {c.identifier for c in diff.changes if c.kind == m.PACKAGE}
    assert {"credentials.max_ttl_seconds", "model.prompt_digest", "chaining.allowed"} <= package
    assert "logging.destinations[siem]" in package


def _only_change(old: dict, new: dict) -> m.Change:
    diff = m.diff_manifests(old, new)
    assert len(diff.changes) == 1, [c.message for c in diff.changes]
    return diff.changes[0]


ENTRY_RULES = [
    ("access", "read", "write"),
    ("access", "write", "admin"),
    ("trust_boundary", "internal", "external"),
    ("trust_boundary", "external", "third_party"),
    ("privileged", False, True),
    ("classification", "internal", "confidential"),
    ("classification", "public", "restricted"),
]


@pytest.mark.parametrize(("field", "narrow", "wide"), ENTRY_RULES)
def test_entry_field_widening_and_reverse(hr, field, narrow, wide):
    before = with_entries(hr, "tools", entry("tools", "crm", **{field: narrow}))
    after = with_entries(hr, "tools", entry("tools", "crm", **{field: wide}))
    grow = _only_change(before, after)
    assert (grow.kind, grow.identifier, grow.field, grow.change) == (
        "tool",
        "crm",
        field,
        "changed",
    )
    assert (grow.old, grow.new, grow.classification) == (narrow, wide, "expansion")
    shrink = _only_change(after, before)
    assert shrink.classification == "narrowing"
    assert m.diff_manifests(after, before).is_pure_narrowing


def test_change_message_reads_naturally(hr):
    before = with_entries(hr, "tools", entry("tools", "zendesk"))
    after = with_entries(hr, "tools", entry("tools", "zendesk", access="write"))
    change = _only_change(before, after)
    assert change.message == "tool zendesk: access read -> write (scope expansion)"
    assert change.as_dict()["message"] == change.message


def test_new_entry_is_expansion_and_removal_narrowing(hr):
    wider = copy.deepcopy(hr)
    wider["scope"]["actions"].append(entry("actions", "ticket.create", access="write"))
    added = _only_change(hr, wider)
    assert (added.kind, added.identifier, added.field, added.change) == (
        "action",
        "ticket.create",
        "entry",
        "added",
    )
    assert added.classification == "expansion"
    assert added.message == "action ticket.create: added (scope expansion)"
    removed = _only_change(wider, hr)
    assert (removed.change, removed.classification) == ("removed", "narrowing")


def test_same_id_in_another_kind_is_a_new_entry(hr):
    moved = copy.deepcopy(hr)
    moved["scope"]["endpoints"] = moved["scope"].pop("tools")
    diff = m.diff_manifests(hr, moved)
    assert {(c.kind, c.change) for c in diff.changes} == {
        ("tool", "removed"),
        ("endpoint", "added"),
    }
    assert diff.is_expansion


CONSTRAINT_RULES = [
    ({"max_amount_eur": 50}, {}, "expansion"),  # key removed
    ({}, {"max_amount_eur": 50}, "narrowing"),  # key added
    ({"max_amount_eur": 50}, {"max_amount_eur": 100}, "expansion"),
    ({"max_amount_eur": 100}, {"max_amount_eur": 50}, "narrowing"),
    ({"max_amount_eur": 0.5}, {"max_amount_eur": 0.75}, "expansion"),
    ({"region": "eu"}, {"region": "us"}, "expansion"),
    ({"allow_override": True}, {"allow_override": False}, "expansion"),
    ({"max_amount_eur": 50}, {"max_amount_eur": "50"}, "expansion"),
    ({"hours": [9, 17]}, {"hours": [9, 16]}, "expansion"),
]


@pytest.mark.parametrize(("old", "new", "expected"), CONSTRAINT_RULES)
def test_constraint_changes(hr, old, new, expected):
    before = with_entries(hr, "actions", entry("actions", "refund", constraints=old))
    after = with_entries(hr, "actions", entry("actions", "refund", constraints=new))
    change = _only_change(before, after)
    assert change.field.startswith("constraints.")
    assert change.classification == expected


def test_each_constraint_key_is_its_own_change(hr):
    before = with_entries(hr, "actions", entry("actions", "refund", constraints={"a": 1, "b": 2}))
    after = with_entries(hr, "actions", entry("actions", "refund", constraints={"a": 2, "c": 3}))
    diff = m.diff_manifests(before, after)
    assert [(c.field, c.change, c.classification) for c in diff.changes] == [
        ("constraints.a", "changed", "expansion"),
        ("constraints.b", "removed", "expansion"),
        ("constraints.c", "added", "narrowing"),
    ]


PACKAGE_RULES = [
    ("credentials.max_ttl_seconds", 900, 3600),
    ("credentials.jit", True, False),
    ("credentials.method", "spiffe_svid", "vault_dynamic"),
    ("credentials.method", "vault_dynamic", "oauth_client_credentials"),
    ("credentials.method", "oauth_client_credentials", "static_secret"),
    ("enforcement.mode", "enforce", "monitor"),
    ("enforcement.point", "gateway", "none"),
    ("enforcement.engine", "cedar", "none"),
    ("chaining.allowed", False, True),
    ("chaining.max_depth", 1, 3),
    ("human_in_the_loop.writes", True, False),
    ("human_in_the_loop.privileged", True, False),
    ("deployment", "internal_copilot", "customer_facing"),
    ("deployment", "customer_facing", "regulated_workflow"),
    ("kill_switch.max_minutes_to_revoke", 5, 60),
    ("kill_switch.webhook", "https://gw.example.com/kill", None),
    ("logging.retention_days", 400, 30),
    ("emergency_access.break_glass", False, True),
    ("approval_valid_days", 30, 90),
    ("approval_valid_days", 30, None),
]


def _package_pair(support: dict, path: str, narrow, wide) -> tuple[dict, dict]:
    base = copy.deepcopy(support)
    base["chaining"] = {"allowed": True, "max_depth": 0}
    base["emergency_access"]["procedure"] = "Page the PAM on-call."
    return with_change(base, path, narrow), with_change(base, path, wide)


@pytest.mark.parametrize(("path", "narrow", "wide"), PACKAGE_RULES)
def test_package_field_widening_and_reverse(support, path, narrow, wide):
    before, after = _package_pair(support, path, narrow, wide)
    m.load_manifest(before), m.load_manifest(after)  # both sides are valid manifests
    grow = _only_change(before, after)
    assert (grow.kind, grow.identifier, grow.field) == ("package", path, "value")
    assert (grow.old, grow.new, grow.classification) == (narrow, wide, "expansion")
    assert m.diff_manifests(before, after).is_expansion
    shrink = _only_change(after, before)
    assert (shrink.old, shrink.new, shrink.classification) == (wide, narrow, "narrowing")
    assert m.diff_manifests(after, before).is_pure_narrowing


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("model.provider", "example-llm", "other-llm"),
        ("model.id", "example-llm-large-2026-10", "example-llm-large-2026-12"),
        ("model.prompt_digest", "sha256:" + "0" * 64, "sha256:" + "1" * 64),
        ("identity.workload_id", "spiffe://prod.example.com/a", "spiffe://prod.example.com/b"),
        ("identity.log_principal", "agent:a", "agent:b"),
        ("enforcement.point", "gateway", "sidecar"),
        ("enforcement.engine", "cedar", "opa"),
        ("kill_switch.webhook", "https://a.example.com/k", "https://b.example.com/k"),
    ],
)
def test_sideways_changes_are_expansions_both_ways(support, path, old, new):
    before, after = with_change(support, path, old), with_change(support, path, new)
    assert _only_change(before, after).classification == "expansion"
    assert _only_change(after, before).classification == "expansion"


def test_pure_narrowing_needs_every_change_to_narrow(support):
    narrower = copy.deepcopy(support)
    narrower["credentials"]["max_ttl_seconds"] = 300
    narrower["scope"]["tools"] = [t for t in narrower["scope"]["tools"] if t["id"] != "zendesk"]
    diff = m.diff_manifests(support, narrower)
    assert len(diff.narrowings) == 2
    assert diff.is_pure_narrowing and not diff.is_expansion
    narrower["name"] = "Renamed"
    mixed = m.diff_manifests(support, narrower)
    assert not mixed.is_pure_narrowing and not mixed.is_expansion
    narrower["credentials"]["jit"] = False
    assert m.diff_manifests(support, narrower).is_expansion


def test_changes_are_sorted_and_grouped(support):
    after = copy.deepcopy(support)
    after["scope"]["tools"][1]["access"] = "admin"  # zendesk
    after["credentials"]["max_ttl_seconds"] = 60
    after["name"] = "Renamed"
    after["scope"]["actions"].append({"id": "a.first", "access": "read"})
    diff = m.diff_manifests(support, after)
    keys = [(c.kind, c.identifier, c.field) for c in diff.changes]
    assert keys == sorted(keys)
    as_dict = diff.as_dict()
    assert [c["identifier"] for c in as_dict["expansions"]] == ["a.first", "zendesk"]
    assert [c["identifier"] for c in as_dict["narrowings"]] == ["credentials.max_ttl_seconds"]
    assert [c["identifier"] for c in as_dict["commitments"]] == ["name"]
    assert as_dict["is_expansion"] is True and as_dict["is_pure_narrowing"] is False
    json.dumps(as_dict)  # JSON-serializable as the package stores it


@settings(max_examples=40, deadline=None)
@given(
    access=st.sampled_from(list(m.ACCESS_ORDER)),
    boundary=st.sampled_from(list(m.BOUNDARY_ORDER)),
    classification=st.sampled_from(list(m.CLASSIFICATION_ORDER)),
)
def test_widening_from_the_narrowest_entry_reverses_to_pure_narrowing(
    access, boundary, classification
):
    base = m.load_manifest(example_text(HR))
    old = with_entries(base, "datasets", entry("datasets", "d", classification="public"))
    new = with_entries(
        base,
        "datasets",
        entry(
            "datasets", "d", access=access, trust_boundary=boundary, classification=classification
        ),
    )
    forward = m.diff_manifests(old, new)
    backward = m.diff_manifests(new, old)
    assert len(forward.changes) == len(backward.changes)
    assert forward.is_empty == (
        (access, boundary, classification) == ("read", "internal", "public")
    )
    assert not forward.narrowings  # the base is the narrowest entry: nothing can narrow from it
    assert backward.is_pure_narrowing == (not forward.is_empty)


# Changes that leave the support agent's manifest valid, alone or together.
_VALID_CHANGES = [
    (path, value)
    for path, values in {
        "name": ["x", "Another name"],
        "description": [None, "x"],
        "credentials.max_ttl_seconds": [30, 7200],
        "credentials.jit": [True],
        "logging.destinations": [["siem", "splunk"], ["splunk"]],
        "logging.retention_days": [30, 3650],
        "chaining.max_depth": [None, 0],
        "kill_switch.webhook": [None],
        "human_in_the_loop.writes": [None, True],
        "scope.tools": [None, []],
    }.items()
    for value in values
]


def _flattened(doc: dict, prefix: str = "") -> dict:
    """Flatten the fields outside the scope to ``{"a.b": value}`` (an empty block is a value)."""
    fields = {}
    for key, value in doc.items():
        if key == "scope" and not prefix:
            continue
        if isinstance(value, dict) and value:
            fields.update(_flattened(value, f"{prefix}{key}."))
        else:
            fields[prefix + key] = value
    return fields


@settings(max_examples=100, deadline=None)
@given(changes=st.lists(st.sampled_from(_VALID_CHANGES), max_size=4))
def test_a_diff_names_every_flattened_field_that_differs(changes):
    support = m.load_manifest(example_text(SUPPORT))
    new = support
    for path, value in changes:
        new = with_change(new, path, value)
    new = m.load_manifest(new)
    before, after = _flattened(support), _flattened(new)
    destinations = "logging.destinations"
    expected = {
        path for path in before.keys() | after.keys()
        if path != destinations and before.get(path) != after.get(path)
    }  # fmt: skip
    diff = m.diff_normalized(support, new)
    named = {c.identifier for c in diff.changes if c.kind == m.PACKAGE}
    assert {name for name in named if not name.startswith(destinations)} == expected
    assert diff.is_empty == (new == support)
