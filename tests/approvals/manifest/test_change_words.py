"""A diff's change reads in words: its field named by the schema's title, beside its path."""

import copy

import pytest

from approvals import manifest as m
from approvals.manifest.schema import SCHEMA, schema_fields
from tests.approvals.manifest.helpers import entry, with_change, with_entries


def named(old: dict, new: dict) -> list[tuple[str, str]]:
    """Return (words, path) of every change from ``old`` to ``new``, as a page shows them."""
    return [
        (shown["words"], shown["path"])
        for shown in (m.change_named(c.as_dict()) for c in m.diff_manifests(old, new).changes)
    ]


def test_a_field_of_an_entry_reads_with_its_kind_identifier_and_title(hr):
    before = with_entries(hr, "tools", entry("tools", "refund-issue"))
    after = with_entries(
        hr, "tools", entry("tools", "refund-issue", access="write", trust_boundary="external")
    )
    assert named(before, after) == [
        ("tool refund-issue: access Read → Write", "scope.tools[refund-issue].access"),
        (
            "tool refund-issue: trust boundary Internal → External",
            "scope.tools[refund-issue].trust_boundary",
        ),
    ]


def test_a_value_of_a_vocabulary_reads_by_its_label_and_a_boolean_as_yes_or_no(hr):
    before = with_entries(hr, "tools", entry("tools", "refund-issue"))
    before = with_change(before, "deployment", "internal_copilot")
    before = with_change(before, "enforcement.mode", "enforce")
    before = with_change(before, "credentials.jit", True)
    before = with_change(before, "risk_tier", None)
    after = with_entries(
        hr,
        "tools",
        entry(
            "tools",
            "refund-issue",
            access="execute",
            trust_boundary="third_party",
            classification="restricted",
            privileged=True,
        ),
    )
    after = with_change(after, "deployment", "customer_facing")
    after = with_change(after, "enforcement.mode", "monitor")
    after = with_change(after, "credentials.jit", False)
    after = with_change(after, "risk_tier", "high")
    assert dict((path, words) for words, path in named(before, after)) == {
        "scope.tools[refund-issue].access": "tool refund-issue: access Read → Execute",
        "scope.tools[refund-issue].trust_boundary": (
            "tool refund-issue: trust boundary Internal → Third party"
        ),
        "scope.tools[refund-issue].classification": (
            "tool refund-issue: data classification Internal → Restricted"
        ),
        "scope.tools[refund-issue].privileged": "tool refund-issue: privileged flag no → yes",
        "deployment": "deployment model: Internal copilot → Customer-facing",
        "enforcement.mode": "enforcement mode: Enforce → Monitor only",
        "credentials.jit": "just-in-time credential issuance: yes → no",
        "risk_tier": "declared risk tier: set to High",
    }
    assert ("declared risk tier: removed (was High)", "risk_tier") in named(after, before)


def test_every_field_with_an_enum_reads_by_a_vocabulary_of_the_same_values():
    """A field the schema gives a list of values shows their labels: it has a vocabulary."""
    entry_fields = {}
    for path, node in schema_fields(SCHEMA):
        if "enum" not in node:
            continue
        owner, entries, name = path.partition("[].")
        vocabulary = m.ENTRY_VOCABULARIES[name] if entries else m.FIELD_VOCABULARIES[path]
        assert set(node["enum"]) - {None} == set(vocabulary.values), path
        if entries:
            entry_fields[name] = vocabulary
    assert entry_fields == m.ENTRY_VOCABULARIES
    enums = {path for path, node in schema_fields(SCHEMA) if "enum" in node}
    assert set(m.FIELD_VOCABULARIES) <= enums


def test_a_field_outside_the_scope_reads_by_its_title(support):
    after = with_change(support, "rollback.plan", "Roll forward.")
    after = with_change(after, "credentials.max_ttl_seconds", 300)
    assert named(support, after) == [
        ("maximum credential TTL: 900 → 300", "credentials.max_ttl_seconds"),
        (
            "rollback plan: Redeploy the previous approved image; conversations fall back to "
            "human agents. → Roll forward.",
            "rollback.plan",
        ),
    ]


def test_an_item_of_a_list_or_mapping_reads_by_the_title_of_its_items(support):
    after = copy.deepcopy(support)
    after["logging"]["destinations"].append("archive")
    after["scope"]["actions"][0]["constraints"]["max_calls"] = 3
    action = after["scope"]["actions"][0]["id"]
    assert named(support, after) == [
        (
            f"action {action}: constraint max_calls set to 3",
            f"scope.actions[{action}].constraints.max_calls",
        ),
        ("log destination archive: added", "logging.destinations"),
    ]


def test_an_entry_added_or_removed_reads_by_its_kind_and_identifier(hr):
    wider = copy.deepcopy(hr)
    wider["scope"]["endpoints"].append(entry("endpoints", "https://api.example/v1"))
    assert named(hr, wider) == [
        ("endpoint https://api.example/v1: added", "scope.endpoints[https://api.example/v1]")
    ]
    assert named(wider, hr) == [
        ("endpoint https://api.example/v1: removed", "scope.endpoints[https://api.example/v1]")
    ]


def test_an_optional_field_set_or_removed_says_so(support):
    unset = with_change(support, "kill_switch.webhook", None)
    webhook = support["kill_switch"]["webhook"]
    assert named(unset, support) == [
        (f"kill-switch webhook: set to {webhook}", "kill_switch.webhook")
    ]
    assert named(support, unset) == [
        (f"kill-switch webhook: removed (was {webhook})", "kill_switch.webhook")
    ]


def test_the_stored_change_and_its_message_stay_as_they_were(hr):
    before = with_entries(hr, "tools", entry("tools", "zendesk"))
    after = with_entries(hr, "tools", entry("tools", "zendesk", access="write"))
    (change,) = m.diff_manifests(before, after).changes
    assert set(change.as_dict()) == {
        "kind",
        "identifier",
        "field",
        "change",
        "old",
        "new",
        "classification",
        "message",
    }
    assert change.message == "tool zendesk: access read -> write (scope expansion)"
    shown = m.change_named(change.as_dict())
    assert shown["classification_label"] == "scope expansion"
    assert {k: shown[k] for k in change.as_dict()} == change.as_dict()


@pytest.mark.parametrize("path", sorted(m.FIELD_CLASSES))
def test_every_field_reads_by_its_title(path):
    """Whatever the field, a change to it is named by the schema's title, not its path."""
    owner, entries, name = path.partition("[].")
    if entries:
        kind = m.KIND_BY_KEY[owner.removeprefix("scope.")]
        change = {"kind": kind, "identifier": "x", "field": name}
        start = f"{m.KIND_LABELS[kind]} x: {m.TITLES[path]} 1 → 2"
    else:
        change = {"kind": m.PACKAGE, "identifier": path, "field": "value"}
        start = f"{m.TITLES[path]}: 1 → 2"
    change |= {"change": "changed", "old": 1, "new": 2, "classification": m.COMMITMENT}
    assert m.change_words(change) == start
