"""Every manifest field has a change class in the schema, and the diff follows it."""

import copy
import json

import pytest

from approvals import manifest as m
from approvals.manifest.diff import SCOPE_RANKS
from approvals.manifest.schema import SCHEMA, SCHEMA_PATH, field_classes
from tests.approvals.manifest.helpers import HR, SUPPORT, example_text, with_change


def _target(node: dict) -> dict:
    """Follow a local reference, keeping the keywords beside it."""
    while "$ref" in node:
        target = SCHEMA
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _leaves(node: dict, path: str = ""):
    """Walk the raw schema: yield (path, node) for every property that holds a value."""
    for key, child in _target(node).get("properties", {}).items():
        child = _target(child)
        name = f"{path}.{key}" if path else key
        items = _target(child["items"]) if isinstance(child.get("items"), dict) else {}
        if "properties" in child:
            yield from _leaves(child, name)
        elif "properties" in items:
            yield from _leaves(items, f"{name}[]")
        else:
            yield name, child


RAW = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
LEAVES = dict(_leaves(RAW))


def test_the_walk_finds_every_part_of_the_manifest():
    assert len(LEAVES) > 30
    assert {"kill_switch.owner", "scope.tools[].access", "logging.destinations"} <= set(LEAVES)


@pytest.mark.parametrize("path", sorted(LEAVES))
def test_every_field_has_a_change_class(path):
    assert LEAVES[path].get(m.CHANGE_CLASS) in m.CHANGE_CLASSES, (
        f"{path} has no valid {m.CHANGE_CLASS}: give it one of {m.CHANGE_CLASSES}"
    )


def test_the_diff_reads_the_classes_of_exactly_the_schema_fields():
    assert m.FIELD_CLASSES == {path: node[m.CHANGE_CLASS] for path, node in LEAVES.items()}


def test_a_field_without_a_class_is_refused_when_the_classes_are_read():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", m.CHANGE_CLASS: m.NARRATIVE},
            "b": {"type": "object", "properties": {"c": {"type": "integer"}}},
            "d": {"type": "string", m.CHANGE_CLASS: "neutral"},
        },
    }
    with pytest.raises(ValueError, match=r"\['b\.c', 'd'\]"):
        field_classes(schema)


def test_ranks_are_given_to_scope_fields_only():
    scope = {path for path, cls in m.FIELD_CLASSES.items() if cls == m.SCOPE}
    assert set(SCOPE_RANKS) <= scope, set(SCOPE_RANKS) - scope


def test_the_commitments_reviewers_approve_are_bound_and_only_prose_is_free():
    for path in (
        "kill_switch.owner",
        "kill_switch.procedure",
        "kill_switch.last_tested",
        "rollback.plan",
        "credentials.revocation",
        "logging.attribution",
    ):
        assert m.FIELD_CLASSES[path] == m.COMMITMENT, path
    narrative = {path for path, cls in m.FIELD_CLASSES.items() if cls == m.NARRATIVE}
    assert narrative == {"description", "justification"} | {
        f"scope.{key}[].justification" for key in m.SCOPE_KINDS
    }


@pytest.mark.parametrize("name", [SUPPORT, HR])
def test_the_reference_manifests_are_still_accepted(name):
    doc = m.load_manifest(example_text(name))
    assert doc["agent"]


def test_the_served_schema_carries_the_classes():
    served = m.manifest_schema()
    assert served == RAW
    assert dict(_leaves(served)).keys() == LEAVES.keys()


def _change(old: dict, new: dict) -> m.Change:
    diff = m.diff_manifests(old, new)
    assert len(diff.changes) == 1, [c.message for c in diff.changes]
    return diff.changes[0]


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("name", "Support bot"),
        ("team", "care"),
        ("risk_tier", "critical"),
        ("risk_tier", None),
        ("credentials.revocation", "Other words."),
        ("kill_switch.procedure", "Other words."),
        ("kill_switch.owner", "someone-else"),
        ("kill_switch.last_tested", "2026-12-01"),
        ("rollback.plan", "Other words."),
        ("logging.attribution", "Other words."),
        ("emergency_access.procedure", "Call PAM."),
    ],
)
def test_a_commitment_change_is_its_own_class(support, path, value):
    after = with_change(support, path, value)
    change = _change(support, after)
    assert (change.identifier, change.classification) == (path, m.COMMITMENT)
    assert change.message.endswith("(commitment change)")
    diff = m.diff_manifests(support, after)
    assert diff.is_commitment_change and not diff.is_expansion and not diff.keeps_approval
    assert diff.commitment_fields == (path,)
    assert diff.as_dict()["commitments"] == [change.as_dict()]


def test_log_destinations_are_a_commitment_both_ways(support):
    more = with_change(support, "logging.destinations", ["siem", "data-lake", "archive"])
    fewer = with_change(support, "logging.destinations", ["siem"])
    for after, identifier, kind in (
        (more, "logging.destinations[archive]", "added"),
        (fewer, "logging.destinations[data-lake]", "removed"),
    ):
        change = _change(support, after)
        assert (change.identifier, change.change, change.classification) == (
            identifier,
            kind,
            m.COMMITMENT,
        )
        assert m.diff_manifests(support, after).commitment_fields == ("logging.destinations",)


@pytest.mark.parametrize("path", ["description", "justification"])
def test_narrative_changes_keep_the_approval(support, path):
    after = with_change(support, path, "Different words.")
    change = _change(support, after)
    assert (change.identifier, change.classification) == (path, m.NARRATIVE)
    diff = m.diff_manifests(support, after)
    assert diff.keeps_approval and not diff.is_pure_narrowing and not diff.commitment_fields


def test_an_entry_justification_is_narrative(support):
    after = copy.deepcopy(support)
    after["scope"]["tools"][0]["justification"] = "Reworded."
    change = _change(support, after)
    assert (change.field, change.classification) == ("justification", m.NARRATIVE)
    assert m.change_path(change) == f"scope.tools[{change.identifier}].justification"
    assert m.diff_manifests(support, after).keeps_approval


def test_narrowing_with_narrative_keeps_the_approval_a_commitment_does_not(support):
    after = copy.deepcopy(support)
    after["credentials"]["max_ttl_seconds"] = 300
    after["description"] = "Now described."
    diff = m.diff_manifests(support, after)
    assert [c.classification for c in diff.changes] == [m.NARROWING, m.NARRATIVE]
    assert diff.keeps_approval and not diff.is_pure_narrowing
    after["rollback"]["plan"] = "Another plan."
    assert not m.diff_manifests(support, after).keeps_approval
    assert not m.diff_manifests(support, copy.deepcopy(support)).keeps_approval


def test_a_diff_groups_what_needs_a_review_first(support):
    after = copy.deepcopy(support)
    after["credentials"]["max_ttl_seconds"] = 60
    after["credentials"]["jit"] = False
    after["kill_switch"]["owner"] = "someone-else"
    after["justification"] = "Reworded."
    groups = m.diff_manifests(support, after).as_dict()
    assert [group for group, _ in m.DIFF_GROUPS] == [
        "expansions",
        "commitments",
        "narrowings",
        "narrative",
    ]
    assert {group: [c["identifier"] for c in groups[group]] for group, _ in m.DIFF_GROUPS} == {
        "expansions": ["credentials.jit"],
        "commitments": ["kill_switch.owner"],
        "narrowings": ["credentials.max_ttl_seconds"],
        "narrative": ["justification"],
    }
    assert groups["is_expansion"] is True and groups["is_commitment_change"] is True
