"""Tests of approvals.manifest: parsing, validation, normalization, digest, risk and diff.

Pure functions only: no database, no Django settings.
"""

import copy
import json
import random
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from approvals import manifest as m

_CANDIDATE_DIRS = (
    Path(__file__).resolve().parents[2] / "examples",
    Path("/work/shared/examples"),
)


def example_text(name: str) -> str:
    """Return the text of a reference manifest."""
    for folder in _CANDIDATE_DIRS:
        if (folder / name).is_file():
            return (folder / name).read_text(encoding="utf-8")
    raise FileNotFoundError(name)


def example(name: str) -> dict:
    """Return a reference manifest as PyYAML parses it (dates and all)."""
    return yaml.safe_load(example_text(name))


SUPPORT = "support-agent.yaml"
HR = "hr-copilot.yaml"


@pytest.fixture
def hr() -> dict:
    return m.load_manifest(example_text(HR))


@pytest.fixture
def support() -> dict:
    return m.load_manifest(example_text(SUPPORT))


def errors_of(data, content_type=None) -> dict[str, list[str]]:
    """Return the errors load_manifest reports for ``data``."""
    with pytest.raises(m.ManifestError) as caught:
        m.load_manifest(data, content_type)
    assert caught.value.errors, "ManifestError must carry at least one error"
    return caught.value.errors


def with_change(doc: dict, path: str, value) -> dict:
    """Return a copy of ``doc`` with the dotted ``path`` set to ``value`` (None deletes)."""
    result = copy.deepcopy(doc)
    *parents, last = path.split(".")
    target = result
    for part in parents:
        target = target.setdefault(part, {})
    if value is None:
        target.pop(last, None)
    else:
        target[last] = value
    return result


def entry(kind_key: str, entry_id: str, **fields) -> dict:
    """Return a scope entry with schema defaults, overridden by ``fields``."""
    base = {
        "id": entry_id,
        "access": "read",
        "trust_boundary": "internal",
        "classification": "internal",
        "privileged": False,
        "constraints": {},
        "justification": "",
    }
    return {**base, **fields}


def with_entries(doc: dict, kind_key: str, *entries: dict) -> dict:
    """Return a copy of ``doc`` whose scope holds only ``entries`` under ``kind_key``."""
    result = copy.deepcopy(doc)
    result["scope"] = {key: [] for key in m.SCOPE_KINDS}
    result["scope"][kind_key] = list(entries)
    return result


# ------------------------------------------------------------------ schema & constants


def test_schema_is_valid_draft_2020_12():
    schema = m.manifest_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_enums_match_python_orders():
    schema = m.manifest_schema()
    entry_props = schema["$defs"]["entry"]["properties"]
    assert entry_props["access"]["enum"] == list(m.ACCESS_ORDER)
    assert entry_props["classification"]["enum"] == list(m.CLASSIFICATION_ORDER)
    assert entry_props["trust_boundary"]["enum"] == list(m.BOUNDARY_ORDER)
    assert list(schema["properties"]["scope"]["properties"]) == list(m.SCOPE_KINDS)
    assert schema["properties"]["risk_tier"]["enum"][:-1] == list(m.RISK_TIERS)
    assert set(schema["properties"]["deployment"]["enum"]) == set(m.DEPLOYMENT_ORDER)
    methods = schema["properties"]["credentials"]["properties"]["method"]["enum"]
    assert set(methods) == set(m.CREDENTIAL_METHOD_ORDER)
    assert set(m.KIND_BY_KEY) == set(m.SCOPE_KINDS)
    assert {m.KEY_BY_KIND[kind] for kind in m.KIND_BY_KEY.values()} == set(m.SCOPE_KINDS)


def test_manifest_schema_returns_a_copy():
    m.manifest_schema()["properties"].clear()
    assert "agent" in m.manifest_schema()["properties"]


# ------------------------------------------------------------- examples & normalization


@pytest.mark.parametrize("name", [SUPPORT, HR])
def test_examples_validate(name):
    doc = m.load_manifest(example_text(name))
    assert doc["agent"] == example(name)["agent"]
    assert m.validation_errors(doc) == {}


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


def test_dates_become_iso_strings():
    raw = example(SUPPORT)
    assert not isinstance(raw["kill_switch"]["last_tested"], str)  # PyYAML made a date
    assert m.load_manifest(raw)["kill_switch"]["last_tested"] == "2026-11-12"


@pytest.mark.parametrize("name", [SUPPORT, HR])
def test_loading_is_idempotent(name):
    once = m.load_manifest(example_text(name))
    twice = m.load_manifest(m.canonical_json(once), "application/json")
    assert twice == once


def test_integral_floats_normalize_to_ints(hr):
    doc = with_change(hr, "credentials.max_ttl_seconds", 3600.0)
    assert m.manifest_digest(doc) == m.manifest_digest(hr)


# ----------------------------------------------------------------------------- digest


def test_canonical_json_is_compact_sorted_and_unescaped():
    assert m.canonical_json({"b": 1, "a": ["é", None]}) == '{"a":["é",null],"b":1}'


def test_digest_is_sha256_hex(support):
    assert re.fullmatch(r"[0-9a-f]{64}", m.manifest_digest(support))


@pytest.mark.parametrize("name", [SUPPORT, HR])
def test_digest_ignores_format_and_key_order(name):
    raw = example(name)
    reference = m.manifest_digest(raw)
    as_json = json.dumps(m.load_manifest(raw), indent=4)
    assert m.manifest_digest(m.load_manifest(as_json, "application/json")) == reference
    assert m.manifest_digest(m.load_manifest(as_json)) == reference  # JSON read as YAML

    def reversed_keys(value):
        if isinstance(value, dict):
            return {k: reversed_keys(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reversed_keys(v) for v in value]
        return value

    assert m.manifest_digest(reversed_keys(raw)) == reference
    assert m.manifest_digest(yaml.safe_load(yaml.safe_dump(raw, sort_keys=True))) == reference


def test_digest_counts_defaults_as_written(hr):
    explicit = copy.deepcopy(example(HR))
    explicit["chaining"]["max_depth"] = 0
    explicit["scope"]["tools"][0]["privileged"] = False
    explicit["scope"]["actions"] = []
    assert m.manifest_digest(explicit) == m.manifest_digest(hr)


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
    assert m.manifest_digest(shuffled) == m.manifest_digest(raw)
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
    assert m.manifest_digest(changed) != m.manifest_digest(raw)


# --------------------------------------------------------------------- error reporting


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
        ("spiffe://prod.example.com/ns/a%20b", "path segments may contain only"),
        ("spiffe://prod.example.com/ns/x\n", "path segments may contain only"),
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
    assert m.spiffe_id_errors(workload_id) == []
    assert m.load_manifest(with_change(hr, "identity.workload_id", workload_id))


_SPIFFE_PATTERN = re.compile(m.manifest_schema()["$defs"]["spiffe_id"]["pattern"][:-1] + r"\Z")


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="spiffe:/aZ0._-?#@%\n", max_size=30),
        st.text(alphabet="aZ0._-/?#", max_size=30).map(lambda s: "spiffe://" + s),
    )
)
def test_spiffe_explanations_agree_with_the_schema_pattern(value):
    assert (m.spiffe_id_errors(value) == []) == bool(_SPIFFE_PATTERN.search(value))


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
    assert list(errors) == ["scope.actions[1].access"]
    assert "read, write, execute, admin" in errors["scope.actions[1].access"][0]


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
    errors = errors_of(doc)
    assert errors == {
        "credentials.max_ttl_seconds": ["must be a whole number, not text"],
        "credentials.jit": ["must be true or false, not text"],
        "logging.retention_days": ["must be a whole number, not true or false"],
        "scope.tools": ["must be a list, not a mapping"],
        "chaining.allowed": ["must be true or false, not a whole number"],
    }


@pytest.mark.parametrize(
    ("path", "value", "error_path"),
    [
        ("agent", "Support_Agent", "agent"),
        ("agent", "support-agent\n", "agent"),
        ("name", "   ", "name"),
        ("deployment", "public", "deployment"),
        ("risk_tier", "extreme", "risk_tier"),
        ("approval_valid_days", 366, "approval_valid_days"),
        ("approval_valid_days", 0, "approval_valid_days"),
        ("model.prompt_digest", "sha256:ABC", "model.prompt_digest"),
        ("credentials.method", "password", "credentials.method"),
        ("credentials.max_ttl_seconds", 2592001, "credentials.max_ttl_seconds"),
        ("enforcement.engine", "rego", "enforcement.engine"),
        ("chaining.max_depth", 21, "chaining.max_depth"),
        ("kill_switch.max_minutes_to_revoke", 0, "kill_switch.max_minutes_to_revoke"),
        ("kill_switch.webhook", "ftp://example.com/kill", "kill_switch.webhook"),
        ("kill_switch.webhook", "https://user:pw@example.com/kill", "kill_switch.webhook"),
        ("kill_switch.last_tested", "2026-02-30", "kill_switch.last_tested"),
        ("kill_switch.last_tested", "12/11/2026", "kill_switch.last_tested"),
        ("logging.destinations", [], "logging.destinations"),
        ("logging.destinations", ["siem", "siem"], "logging.destinations"),
        ("logging.retention_days", 3651, "logging.retention_days"),
        ("surprise", True, "surprise"),
        ("scope.plugins", [], "scope.plugins"),
        ("identity.region", "eu", "identity.region"),
    ],
)
def test_invalid_values_are_reported_on_their_path(support, path, value, error_path):
    errors = errors_of(with_change(support, path, value))
    assert list(errors) == [error_path]


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
    assert list(errors) == ["emergency_access.procedure"]
    ok = with_change(hr, "emergency_access", {"break_glass": True, "procedure": "Page PAM."})
    assert m.load_manifest(ok)["emergency_access"]["break_glass"] is True


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


@pytest.mark.parametrize(
    ("text", "content_type"),
    [
        ("agent: [unclosed\nname: x\n", None),
        ("agent: a\n  name: b\n", "application/yaml"),
        ('{"agent": "a",}', "application/json"),
        ("agent: a\nagent: b\n", None),
        ('{"agent": "a", "agent": "b"}', "application/json"),
    ],
)
def test_syntax_errors_are_reported_on_manifest(text, content_type):
    errors = errors_of(text, content_type)
    assert list(errors) == ["manifest"]
    assert re.search(r"invalid (YAML|JSON)", errors["manifest"][0])


def test_yaml_syntax_error_names_the_line():
    errors = errors_of("agent: ok\nname: [broken\n")
    assert "line 3" in errors["manifest"][0]


@pytest.mark.parametrize(
    "text", ["- agent: a\n- agent: b\n", "just a string", "42", "", "# only a comment\n"]
)
def test_non_mapping_top_level_is_rejected(text):
    assert list(errors_of(text)) == ["manifest"]


def test_non_text_input_is_rejected():
    assert list(errors_of(42)) == ["manifest"]


def test_non_text_keys_and_non_finite_numbers_are_rejected(hr):
    doc = copy.deepcopy(hr)
    doc["scope"]["tools"][0]["constraints"] = {True: 1, "limit": float("nan")}
    errors = errors_of(doc)
    assert set(errors) == {"scope.tools[0].constraints", "scope.tools[0].constraints.limit"}


def _nested(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels):
        value = {"next": value}
    return value


_LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)  # 9**9 values in 300 bytes


@pytest.mark.parametrize(
    ("source", "content_type", "path", "message"),
    [
        ("agent: &a [*a]\n", None, "manifest", "an alias inside the node it names"),
        ("a: " + "[" * 40 + "]" * 40, None, "manifest", "nested more than 32 levels"),
        (_LAUGHS, None, "manifest", "more than 100000 values"),
        ("[" * 50_000 + "]" * 50_000, "application/json", "manifest", "nested more than 32"),
        ({"agent": "a", "c": _nested(40)}, None, "c" + ".next" * 31, "nested more than 32"),
    ],
)
def test_a_document_past_the_limits_is_refused_before_it_is_read_in_full(
    source, content_type, path, message
):
    errors = errors_of(source, content_type)
    assert list(errors) == [path]
    assert message in errors[path][0]


_YAML_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.dates()
    | st.text(max_size=6)
    | st.sampled_from(["yes", "off", "1:20", "0x1f", "~", "2026-11-29 10:00:00", "<<", "="]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6) | st.integers() | st.booleans(), inner, max_size=3)
    ),
    max_leaves=10,
)
_YAML_FEATURES = [
    "base: &b {x: 1, y: two}\nmerged: {<<: *b, y: 3}\n",
    "a: &l [1, 2]\nb: *l\nc: {k: *l}\n",
    "set: !!set {a, b}\nomap: !!omap [{a: 1}]\nbin: !!binary aGk=\n",
    "? [complex, key]\n: value\n",
    "{1: one, '1': text, true: t}\n",
    "k: !!str 123\nn: !!int '7'\nf: !!float 1\n",
    "a: 1\na: 2\n",
    "a: yes\nb: 'yes'\nc: \"1\"\nd: 1\ne: yes\n",
    "a: {x: 1, x: 2}\n",
    "--- a\n--- b\n",
    "",
]


class _ReferenceLoader(m._UniqueKeyLoader):
    """The safe constructor and resolver as PyYAML has them, with the duplicate-key check."""

    resolve = yaml.resolver.BaseResolver.resolve
    descend_resolver = yaml.resolver.BaseResolver.descend_resolver
    ascend_resolver = yaml.resolver.BaseResolver.ascend_resolver


def test_the_yaml_loader_has_no_path_resolvers():
    # Its resolve memo and its do-nothing descend/ascend_resolver rely on it.
    assert not m._UniqueKeyLoader.yaml_path_resolvers


@settings(max_examples=300, deadline=None)
@given(
    value=_YAML_VALUES,
    flow=st.sampled_from([None, True, False]),
    feature=st.sampled_from(_YAML_FEATURES),
)
def test_reading_yaml_gives_what_the_safe_constructor_gives(value, flow, feature):
    texts = [yaml.safe_dump({"doc": value}, default_flow_style=flow), feature]
    for text in texts:
        try:
            expected = yaml.load(text, Loader=_ReferenceLoader)  # noqa: S506 - safe loader
        except yaml.YAMLError as error:
            with pytest.raises(yaml.YAMLError) as caught:
                m._yaml_load(text)
            assert caught.value.problem == error.problem
        else:
            assert m._yaml_load(text) == expected


def test_aliases_within_the_limits_are_read(support):
    doc = copy.deepcopy(support)
    text = yaml.safe_dump(doc).replace("constraints: {}", "constraints: &none {}", 1)
    text = text.replace("constraints: {}", "constraints: *none")
    assert "*none" in text
    assert m.load_manifest(text) == support


_COPIED_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.dates()
    | st.text(alphabet="a\x00", max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner)
        | st.dictionaries(st.text(alphabet="k\x00", max_size=2) | st.integers(), inner, max_size=3)
    ),
    max_leaves=12,
)


def _full_walk(doc):
    errors = {}
    result = m._json_compatible(doc, (), errors, m._Budget())
    if errors:
        raise m.ManifestError(errors)
    return result


@settings(max_examples=400, deadline=None)
@given(value=_COPIED_VALUES, depth=st.sampled_from([0, m.MAX_DEPTH - 2, m.MAX_DEPTH - 1]))
def test_the_plain_copy_gives_what_the_full_walk_gives(value, depth):
    doc = {"doc": value}
    for _ in range(depth):
        doc = {"d": [doc]} if depth % 2 else {"d": doc}
    try:
        expected = _full_walk(doc)
    except m.ManifestError as error:
        with pytest.raises(m.ManifestError) as caught:
            m._jsonable_or_raise(doc)
        assert caught.value.errors == error.errors
    else:
        copied = m._jsonable_or_raise(doc)
        assert copied == expected
        assert json.dumps(copied) == json.dumps(expected)  # 1.0 became 1 in both, True stayed


def test_the_plain_copy_keeps_the_value_budget():
    doc = {"values": [0] * (m.MAX_VALUES - 2)}  # with the root and the list: the limit
    assert m._jsonable_or_raise(doc) == doc
    doc["values"].append(0)
    assert "manifest" in errors_of(doc)


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


@settings(max_examples=100, deadline=None)
@given(changes=st.lists(st.sampled_from(_VALID_CHANGES), max_size=4))
def test_a_diff_names_every_flattened_field_that_differs(changes):
    support = m.load_manifest(example_text(SUPPORT))
    new = support
    for path, value in changes:
        new = with_change(new, path, value)
    new = m.load_manifest(new)
    before, after = m._package_fields(support), m._package_fields(new)
    destinations = "logging.destinations"
    expected = {
        path for path in before.keys() | after.keys()
        if path != destinations and before.get(path) != after.get(path)
    }  # fmt: skip
    diff = m.diff_normalized(support, new)
    named = {c.identifier for c in diff.changes if c.kind == m.PACKAGE}
    assert {name for name in named if not name.startswith(destinations)} == expected
    assert diff.is_empty == (new == support)


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
        assert m.validation_errors(normalized) == {}


def test_manifest_error_is_a_value_error_with_a_summary():
    error = m.ManifestError({"agent": ["is required"]})
    assert isinstance(error, ValueError)
    assert "agent: is required" in str(error)


def test_bytes_and_yaml_json_superset_are_accepted(hr):
    text = json.dumps(hr)
    assert m.load_manifest(text.encode("utf-8")) == hr
    assert m.load_manifest(text.encode("utf-8"), "application/json; charset=utf-8") == hr


# ------------------------------------------------------------------------------- risk


def test_support_agent_is_critical(support):
    assert support["risk_tier"] == "high"  # declared lower than computed: never lowers it
    assert m.compute_risk_tier(support) == "critical"
    reasons = " ".join(m.risk_tier_reasons(support))
    assert "privileged" in reasons
    assert "third_party boundary" in reasons


def test_hr_copilot_is_low(hr):
    assert m.compute_risk_tier(hr) == "low"
    assert m.risk_tier_reasons(hr) == [m._LOW_REASON]


RISK_CASES = [
    # (scope kind, entry fields incl. optional "id" and the manifest's "deployment", tier)
    ("tools", {}, "low"),
    ("datasets", {"classification": "public"}, "low"),
    ("actions", {"id": "refund.lookup"}, "low"),
    ("tools", {"access": "write"}, "medium"),
    ("datasets", {"classification": "confidential"}, "medium"),
    ("tools", {"deployment": "customer_facing"}, "medium"),
    ("tools", {"id": "payment-sdk", "access": "write"}, "medium"),
    ("tools", {"access": "write", "deployment": "customer_facing"}, "high"),
    ("tools", {"trust_boundary": "external"}, "high"),
    ("external_apis", {"trust_boundary": "third_party"}, "high"),
    ("datasets", {"classification": "restricted"}, "high"),
    ("tools", {"access": "execute"}, "high"),
    ("tools", {"privileged": True}, "critical"),
    ("tools", {"access": "admin"}, "critical"),
    ("tools", {"deployment": "regulated_workflow"}, "critical"),
    ("tools", {"access": "write", "trust_boundary": "external"}, "critical"),
    ("external_apis", {"access": "execute", "trust_boundary": "third_party"}, "critical"),
    ("actions", {"id": "payout.send", "access": "execute"}, "critical"),
    ("endpoints", {"id": "https://x.internal/refunds", "access": "write"}, "critical"),
    ("actions", {"access": "write", "constraints": {"max_transfer_eur": 5}}, "critical"),
]


@pytest.mark.parametrize(("kind_key", "fields", "expected"), RISK_CASES)
def test_computed_risk_tiers(hr, kind_key, fields, expected):
    fields = dict(fields)
    deployment = fields.pop("deployment", "internal_copilot")
    doc = with_entries(hr, kind_key, entry(kind_key, fields.pop("id", "thing"), **fields))
    doc["deployment"] = deployment
    assert m.compute_risk_tier(doc) == expected
    assert m.risk_tier_reasons(doc)


def test_chaining_and_break_glass_raise_the_tier(hr):
    chained = with_change(hr, "chaining", {"allowed": True, "max_depth": 2})
    assert m.compute_risk_tier(chained) == "high"
    assert "max depth 2" in " ".join(m.risk_tier_reasons(chained))
    glass = with_change(hr, "emergency_access", {"break_glass": True, "procedure": "Call PAM."})
    assert m.compute_risk_tier(glass) == "critical"


@pytest.mark.parametrize("declared", m.RISK_TIERS)
def test_declared_tier_raises_but_never_lowers(hr, support, declared):
    rank = m.RISK_TIERS.index
    assert m.compute_risk_tier(with_change(hr, "risk_tier", declared)) == declared
    raised = m.compute_risk_tier(with_change(support, "risk_tier", declared))
    assert raised == "critical"
    assert rank(raised) >= rank(declared)


def test_reasons_mention_a_declared_raise(hr):
    reasons = m.risk_tier_reasons(with_change(hr, "risk_tier", "high"))
    assert reasons[-1] == "The declared risk tier high raises the computed tier low."


# ------------------------------------------------------------------------------- diff


def test_identical_manifests_have_an_empty_diff(support):
    diff = m.diff_manifests(support, copy.deepcopy(support))
    assert diff.is_empty
    assert not diff.is_expansion
    assert not diff.is_pure_narrowing
    assert diff.as_dict() == {
        "expansions": [],
        "narrowings": [],
        "neutral": [],
        "is_expansion": False,
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
    assert change.message == "tool zendesk: access read -> write (expansion)"
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
    assert added.message == "action ticket.create: added (expansion)"
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


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("name", "Support bot"),
        ("team", "care"),
        ("description", "Now with a description."),
        ("justification", "Different words."),
        ("credentials.revocation", "Other words."),
        ("kill_switch.procedure", "Other words."),
        ("kill_switch.owner", "someone-else"),
        ("kill_switch.last_tested", "2026-12-01"),
        ("rollback.plan", "Other words."),
        ("logging.attribution", "Other words."),
        ("risk_tier", "critical"),
        ("risk_tier", None),
        ("emergency_access.procedure", "Call PAM."),
    ],
)
def test_text_only_changes_are_neutral(support, path, value):
    change = _only_change(support, with_change(support, path, value))
    assert (change.identifier, change.classification) == (path, "neutral")


def test_entry_justification_is_neutral(support):
    after = copy.deepcopy(support)
    after["scope"]["tools"][0]["justification"] = "Reworded."
    change = _only_change(support, after)
    assert (change.field, change.classification) == ("justification", "neutral")
    assert not m.diff_manifests(support, after).is_pure_narrowing


def test_log_destinations(support):
    more = with_change(support, "logging.destinations", ["siem", "data-lake", "archive"])
    added = _only_change(support, more)
    assert (added.identifier, added.change, added.classification) == (
        "logging.destinations[archive]",
        "added",
        "neutral",
    )
    fewer = with_change(support, "logging.destinations", ["siem"])
    removed = _only_change(support, fewer)
    assert (removed.identifier, removed.change, removed.classification) == (
        "logging.destinations[data-lake]",
        "removed",
        "expansion",
    )


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
    assert [c["identifier"] for c in as_dict["neutral"]] == ["name"]
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


def test_validity_follows_the_schema_regex_dialect_ecma_262(hr):
    """jsonschema-rs decides with ECMA-262 patterns, as JSON Schema defines them.

    Python's `\\s` and ECMA's differ at the edges: U+FEFF is whitespace only in
    ECMA, U+001C only in Python. A manifest Python's validator passes but the
    deciding one refuses is still refused, in the deciding validator's words.
    """
    assert errors_of(with_change(hr, "name", "\ufeff")) == {
        "name": ['"\ufeff" does not match "\\S"']
    }
    assert m.load_manifest(with_change(hr, "name", "\x1c"))["name"] == "\x1c"
