"""Reading a manifest's YAML or JSON text, or a mapping, into plain JSON data."""

import copy
import json
import math
import re
from datetime import date

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from approvals import manifest as m
from approvals.manifest.reading import read_document
from tests.approvals.manifest.helpers import HR, SUPPORT, errors_of, example, example_text


def test_dates_become_iso_strings():
    raw = example(SUPPORT)
    assert not isinstance(raw["kill_switch"]["last_tested"], str)  # PyYAML made a date
    assert m.load_manifest(raw)["kill_switch"]["last_tested"] == "2026-11-12"


@pytest.mark.parametrize("name", [SUPPORT, HR])
def test_loading_is_idempotent(name):
    once = m.load_manifest(example_text(name))
    twice = m.load_manifest(m.canonical_json(once), "application/json")
    assert twice == once


def test_bytes_and_yaml_json_superset_are_accepted(hr):
    text = json.dumps(hr)
    assert m.load_manifest(text.encode("utf-8")) == hr
    assert m.load_manifest(text.encode("utf-8"), "application/json; charset=utf-8") == hr


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
    "text",
    [
        "agent: a\nagent: b\n",
        "a: {x: 1, x: 2}\n",
        "a:\n  - {k: 1, k: 1}\n",
        "1: one\n1: uno\n",
        "base: &b {x: 1}\nm: {<<: *b, y: 2, y: 3}\n",
    ],
)
def test_a_key_repeated_in_a_yaml_mapping_is_refused_with_its_line(text):
    errors = errors_of(text)
    assert list(errors) == ["manifest"]
    assert "found duplicate key" in errors["manifest"][0]
    assert "line " in errors["manifest"][0]


def test_a_key_given_again_after_a_merge_is_no_repetition():
    doc = read_document("base: &b {x: 1, y: two}\nmerged: {<<: *b, y: 3}\n")
    assert doc["merged"] == {"x": 1, "y": 3}


@pytest.mark.parametrize(
    "text", ["- agent: a\n- agent: b\n", "just a string", "42", "", "# only a comment\n"]
)
def test_non_mapping_top_level_is_rejected(text):
    assert list(errors_of(text)) == ["manifest"]


def test_a_top_level_that_is_not_a_mapping_is_named():
    assert errors_of("- a\n") == {"manifest": ["must be a mapping, not a list"]}
    assert errors_of("") == {"manifest": ["is empty"]}


def test_non_text_input_is_rejected():
    assert list(errors_of(42)) == ["manifest"]


def test_non_text_keys_and_non_finite_numbers_are_rejected(hr):
    doc = copy.deepcopy(hr)
    doc["scope"]["tools"][0]["constraints"] = {True: 1, "limit": float("nan")}
    errors = errors_of(doc)
    assert set(errors) == {"scope.tools[0].constraints", "scope.tools[0].constraints.limit"}


def test_nul_characters_are_refused_in_text_and_keys(hr):
    doc = copy.deepcopy(hr)
    doc["name"] = "a\x00b"
    doc["scope"]["tools"][0]["constraints"] = {"k\x00": 1}
    errors = errors_of(doc)
    assert errors["name"] == ["must not contain NUL characters"]
    assert errors["scope.tools[0].constraints"] == ["keys must not contain NUL characters"]


LONE = "half of a UTF-16 pair without its other half"


def test_lone_surrogates_are_refused_in_text_and_keys_however_they_come(hr):
    doc = copy.deepcopy(hr)
    doc["name"] = "a\ud800"
    doc["scope"]["tools"][0]["constraints"] = {"k\udfff": 1, "\U0001f50d": "\U0001f50d"}
    expected = {
        "name": [f"must not contain \\ud800, {LONE}"],
        "scope.tools[0].constraints": [f"keys must not contain \\udfff, {LONE}"],
    }
    assert errors_of(doc) == expected
    assert m.source_digest(doc) == ""  # no text to digest
    # JSON escapes them (and writes a pair as two escapes that read as one character).
    assert errors_of(json.dumps(doc), "application/json") == expected
    # YAML refuses the escape, and text that holds one.
    assert "invalid Unicode character escape" in errors_of('name: "\\ud800"\n')["manifest"][0]
    assert errors_of("agent: a\nname: b\ud800\n") == {
        "manifest": [f"invalid YAML: found \\ud800, {LONE} (line 2, column 8)"]
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("last_tested: 2026-02-30\n", "'2026-02-30' is not a valid timestamp: day is out of"),
        ("at: 2026-01-01 10:00:00+99:00\n", "is not a valid timestamp: offset must be"),
        ('a: !!timestamp "x"\n', "'x' is not a valid timestamp (line 1, column 4)"),
        ('a: !!int "x"\n', "'x' is not a valid int: invalid literal for int()"),
        ('a: !!int ""\n', "'' is not a valid int (line 1, column 4)"),
        ('a: !!float "."\n', "'.' is not a valid float: could not convert"),
        ("a: !!bool maybe\n", "'maybe' is not a valid bool (line 1, column 4)"),
        ("a: " + "1" * 5000 + "\n", "is not a valid int: Exceeds the limit (4300 digits)"),
        ("a: -0b" + "1" * 14_300 + "\n", "written in decimal it has more than 4300 digits"),
        ("a: 1:" + "0:" * 3000 + "0\n", "written in decimal it has more than 4300 digits"),
        # Refused unread: base 60 is read in time growing with its length squared.
        ("a: 1:" + "0:" * 1_000_000 + "0\n", "written with more than 17200 characters"),
        ("? 0x" + "f" * 4000 + "\n: 1\n", "more than 4300 digits (line 1, column 3)"),
    ],
)
def test_a_value_its_yaml_tag_cannot_stand_for_is_invalid_yaml_with_its_line(text, message):
    errors = errors_of(text)
    assert list(errors) == ["manifest"]
    assert errors["manifest"][0].startswith("invalid YAML: ")
    assert message in errors["manifest"][0]
    assert "sys.set_int_max_str_digits" not in errors["manifest"][0]


def test_ints_as_long_as_python_writes_them_are_read():
    assert read_document("a: " + "9" * 4300) == {"a": 10**4300 - 1}
    assert read_document("a: 0x" + "f" * 3000) == {"a": 16**3000 - 1}
    assert (
        "4300 digits" in errors_of('{"a": ' + "9" * 4301 + "}", "application/json")["manifest"][0]
    )


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
        # An alias inside the node it names: endlessly deep.
        ("agent: &a [*a]\n", None, "agent" + "[0]" * 31, "nested more than 32 levels"),
        ("a: &a {b: *a}\n", None, "a" + ".b" * 31, "nested more than 32 levels"),
        ("a: " + "[" * 40 + "]" * 40, None, "a" + "[0]" * 31, "nested more than 32 levels"),
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


def test_the_value_budget_counts_every_value():
    doc = {"values": [0] * (m.MAX_VALUES - 2)}  # with the root and the list: the limit
    assert read_document(doc) == doc
    doc["values"].append(0)
    assert "manifest" in errors_of(doc)


def test_aliases_within_the_limits_are_read(support):
    doc = copy.deepcopy(support)
    text = yaml.safe_dump(doc).replace("constraints: {}", "constraints: &none {}", 1)
    text = text.replace("constraints: {}", "constraints: *none")
    assert "*none" in text
    assert m.load_manifest(text) == support


def test_reading_a_mapping_copies_it():
    doc = {"a": {"b": [1, {"c": "d"}]}}
    copied = read_document(doc)
    copied["a"]["b"][1]["c"] = "changed"
    assert doc == {"a": {"b": [1, {"c": "d"}]}}


# ----------------------------------------------------------- reading against references


class _Invalid(Exception):
    """The reference finds a value JSON cannot hold, at these paths."""


def _reference(value, depth=0):
    """Convert PyYAML's or Python's data to plain JSON data the long way, or raise _Invalid."""
    if isinstance(value, dict | list | tuple) and depth >= m.MAX_DEPTH:
        raise _Invalid
    if isinstance(value, dict):
        if not all(isinstance(key, str) and _storable(key) for key in value):
            raise _Invalid
        return {key: _reference(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_reference(item, depth + 1) for item in value]
    if isinstance(value, str) and not _storable(value):
        raise _Invalid
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _Invalid
        return int(value) if value.is_integer() else value
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, str | int):
        return value
    raise _Invalid


def _storable(text: str) -> bool:
    """Tell whether text holds neither NUL nor a lone surrogate, the long way."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _repeats_a_key(text: str) -> bool:
    """Tell whether a mapping of the YAML text holds two equal keys of its own (merges aside)."""
    loader = yaml.CSafeLoader(text)

    def repeats(node) -> bool:
        if isinstance(node, yaml.SequenceNode):
            return any(repeats(item) for item in node.value)
        if not isinstance(node, yaml.MappingNode):
            return False
        own = [key for key, _ in node.value if key.tag != "tag:yaml.org,2002:merge"]
        keys = [loader.construct_object(key, deep=True) for key in own]
        return len(set(keys)) < len(keys) or any(
            repeats(key) or repeats(value) for key, value in node.value
        )

    try:
        return repeats(loader.get_single_node())
    finally:
        loader.dispose()


def _expect_as_the_references_read(source, expected_doc):
    """Assert read_document gives the reference's plain data, or refuses what it refuses."""
    try:
        expected = _reference(expected_doc)
    except _Invalid:
        with pytest.raises(m.ManifestError):
            read_document(source)
    else:
        if not isinstance(expected, dict):
            with pytest.raises(m.ManifestError):
                read_document(source)
            return
        result = read_document(source)
        assert result == expected
        assert json.dumps(result) == json.dumps(expected)  # 1.0 became 1 in both, True stayed


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


@settings(max_examples=300, deadline=None)
@given(
    value=_YAML_VALUES,
    flow=st.sampled_from([None, True, False]),
    feature=st.sampled_from(_YAML_FEATURES),
)
def test_reading_yaml_gives_what_the_safe_loader_gives(value, flow, feature):
    for text in [yaml.safe_dump({"doc": value}, default_flow_style=flow), feature]:
        try:
            expected = yaml.load(text, Loader=yaml.CSafeLoader)  # noqa: S506 - the safe loader
        except yaml.YAMLError as error:
            with pytest.raises(m.ManifestError) as caught:
                read_document(text)
            assert f"invalid YAML: {error.problem}" in caught.value.errors["manifest"][0]
            continue
        if _repeats_a_key(text):
            with pytest.raises(m.ManifestError, match="found duplicate key"):
                read_document(text)
        elif expected is None:
            assert errors_of(text) == {"manifest": ["is empty"]}
        else:
            _expect_as_the_references_read(text, expected)


_PYTHON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.dates()
    | st.text(alphabet="a\x00\ud800\U0001f50d", max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner)
        | st.dictionaries(
            st.text(alphabet="k\x00\udfff\u00e9", max_size=2) | st.integers(), inner, max_size=3
        )
    ),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(value=_PYTHON_VALUES, depth=st.sampled_from([0, m.MAX_DEPTH - 2, m.MAX_DEPTH - 1]))
def test_reading_a_mapping_gives_its_plain_copy(value, depth):
    doc = {"doc": value}
    for _ in range(depth):
        doc = {"d": [doc]} if depth % 2 else {"d": doc}
    _expect_as_the_references_read(doc, doc)


def test_each_fault_of_a_mapping_is_named_on_its_path():
    doc = {"a": [1.5, float("inf"), {"k": b"x"}], 3: "three", "t": ("x", date(2026, 1, 2))}
    with pytest.raises(m.ManifestError) as caught:
        read_document(doc)
    assert caught.value.errors == {
        "a[1]": ["must be a finite number"],
        "a[2].k": ["has an unsupported value of type bytes"],
        "manifest": ["keys must be text, found 3"],
    }
