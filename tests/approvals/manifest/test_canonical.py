"""Normalizing a manifest, its canonical JSON, and its digests."""

import copy
import hashlib
import json
import random
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from approvals import manifest as m
from tests.approvals.manifest.helpers import HR, SUPPORT, entry, example, with_change


def digest(doc) -> str:
    return m.normalized_digest(m.normalize_manifest(doc))


def test_normalized_manifests_share_one_key_set(hr, support):
    def keys(doc, prefix=""):
        for key, value in doc.items():
            if isinstance(value, dict) and key != "scope":
                yield from keys(value, f"{prefix}{key}.")
            yield prefix + key

    assert set(keys(hr)) == set(keys(support))
    assert set(hr["scope"]) == set(m.SCOPE_KINDS)


def test_normalize_fills_defaults(hr):
    assert hr["scope"]["actions"] == []
    assert hr["scope"]["endpoints"] == []
    assert hr["scope"]["tools"] == [entry("tools", "policy-search")]
    assert hr["chaining"] == {"allowed": False, "max_depth": 0}
    assert hr["human_in_the_loop"] == {"writes": False, "privileged": False}
    assert hr["emergency_access"] == {"break_glass": False, "procedure": None}
    assert hr["kill_switch"]["webhook"] is None
    assert hr["kill_switch"]["last_tested"] == "2026-10-30"
    for field in ("risk_tier", "approval_valid_days", "description"):
        assert hr[field] is None


def test_normalize_sorts_entries_and_destinations(support):
    for key in m.SCOPE_KINDS:
        ids = [item["id"] for item in support["scope"][key]]
        assert ids == sorted(ids)
    assert support["logging"]["destinations"] == ["data-lake", "siem"]


def test_normalize_does_not_mutate_its_input():
    raw = example(HR)
    before = copy.deepcopy(raw)
    m.normalize_manifest(raw)
    assert raw == before


def test_normalize_gives_what_load_gives(hr):
    assert m.normalize_manifest(example(HR)) == hr
    assert m.normalize_manifest(hr) == hr


def test_normalize_refuses_what_json_cannot_hold(hr):
    with pytest.raises(m.ManifestError) as caught:
        m.normalize_manifest(with_change(hr, "description", float("inf")))
    assert caught.value.errors == {"description": ["must be a finite number"]}


def test_entries_sharing_an_id_sort_by_content():
    raw = example(HR)
    raw["scope"]["tools"] = [
        {"id": "same", "access": "write"},
        {"id": "same", "access": "read"},
    ]
    once = m.normalize_manifest(raw)
    raw["scope"]["tools"].reverse()
    assert m.normalize_manifest(raw) == once
    assert [tool["access"] for tool in once["scope"]["tools"]] == ["read", "write"]


def test_integral_floats_normalize_to_ints(hr):
    doc = with_change(hr, "credentials.max_ttl_seconds", 3600.0)
    assert digest(doc) == digest(hr)


def test_canonical_json_is_compact_sorted_and_unescaped():
    assert m.canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'


def test_digest_is_sha256_hex_of_the_canonical_json(support):
    value = m.normalized_digest(support)
    assert re.fullmatch(r"[0-9a-f]{64}", value)
    assert value == hashlib.sha256(m.canonical_json(support).encode()).hexdigest()


@pytest.mark.parametrize("name", [SUPPORT, HR])
def test_digest_ignores_format_and_key_order(name):
    raw = example(name)
    reference = digest(raw)
    as_json = json.dumps(m.load_manifest(raw), indent=4)
    assert m.normalized_digest(m.load_manifest(as_json, "application/json")) == reference
    assert m.normalized_digest(m.load_manifest(as_json)) == reference  # JSON read as YAML

    def reversed_keys(value):
        if isinstance(value, dict):
            return {k: reversed_keys(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reversed_keys(v) for v in value]
        return value

    assert digest(reversed_keys(raw)) == reference
    assert digest(yaml.safe_load(yaml.safe_dump(raw, sort_keys=True))) == reference


def test_digest_counts_defaults_as_written(hr):
    explicit = copy.deepcopy(example(HR))
    explicit["chaining"]["max_depth"] = 0
    explicit["scope"]["tools"][0]["privileged"] = False
    explicit["scope"]["actions"] = []
    assert digest(explicit) == m.normalized_digest(hr)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_digest_ignores_entry_and_destination_order(seed):
    rng = random.Random(seed)
    raw = example(SUPPORT)
    shuffled = copy.deepcopy(raw)
    for key in m.SCOPE_KINDS:
        rng.shuffle(shuffled["scope"].get(key, []))
    rng.shuffle(shuffled["logging"]["destinations"])
    for block in ("scope", "credentials", "logging"):
        items = list(shuffled[block].items())
        rng.shuffle(items)
        shuffled[block] = dict(items)
    assert digest(shuffled) == digest(raw)
    assert m.diff_manifests(raw, shuffled).is_empty


@pytest.mark.parametrize(
    ("kind_key", "index", "field", "value"),
    [
        ("actions", 0, "access", "admin"),
        (
            "actions",
            1,
            "constraints",
            {"max_amount_eur": 51, "requires_human_approval_above_eur": 20},
        ),
        ("tools", 0, "trust_boundary", "external"),
        ("tools", 1, "privileged", True),
        ("datasets", 0, "classification", "restricted"),
        ("datasets", 1, "justification", "Reworded."),
        ("endpoints", 0, "id", "https://payments.internal.example.com/v3/refunds"),
        ("external_apis", 0, "access", "write"),
    ],
)
def test_digest_changes_with_any_scope_value(kind_key, index, field, value):
    raw = example(SUPPORT)
    changed = copy.deepcopy(raw)
    changed["scope"][kind_key][index][field] = value
    assert digest(changed) != digest(raw)


def test_a_source_digest_is_the_text_as_sent_and_how_it_is_read():
    text = '{"agent": "a"}'
    as_yaml = m.source_digest(text, "application/yaml")
    assert re.fullmatch(r"[0-9a-f]{64}", as_yaml)
    assert as_yaml == m.source_digest(text, None)
    assert as_yaml != m.source_digest(text, "application/json")
    assert as_yaml != m.source_digest(text + " ", "application/yaml")
    as_object = m.source_digest({"agent": "a"}, "application/json")
    assert as_object not in ("", as_yaml, m.source_digest(text, "application/json"))
    assert m.source_digest({"b": 1, "agent": "a"}) == m.source_digest({"agent": "a", "b": 1})
    assert m.source_digest({"agent": float("nan")}) == ""
    assert m.source_digest(b"agent: a") == ""
