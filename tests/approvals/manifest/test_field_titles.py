"""Every manifest field has words in the schema (its title), and reasons name fields by them."""

import pytest

from approvals import manifest as m
from approvals.manifest.schema import SCHEMA, TITLE, field_titles, schema_fields


@pytest.mark.parametrize("path", sorted(m.FIELD_CLASSES))
def test_every_field_the_diff_knows_has_words(path):
    words = m.FIELD_TITLES[path]
    assert words.startswith(("the ", "a ", "an ")) and words == words.strip(), path
    assert m.field_named(path) == f"{words} ({path})"


def test_the_words_are_read_from_the_fields_titles():
    assert set(m.FIELD_TITLES) == set(m.FIELD_CLASSES)
    titles = {path: node[TITLE] for path, node in schema_fields(SCHEMA)}
    assert titles["rollback.plan"] == "rollback plan"
    assert m.FIELD_TITLES["rollback.plan"] == "the rollback plan"
    assert m.manifest_schema()["$defs"]["entry"]["properties"]["trust_boundary"][TITLE] == (
        "trust boundary"
    )


def test_a_field_of_a_scope_entry_is_named_by_its_kind():
    assert m.FIELD_TITLES["scope.tools[].trust_boundary"] == "a tool's trust boundary"
    assert m.FIELD_TITLES["scope.actions[].access"] == "an action's access"
    assert m.FIELD_TITLES["scope.external_apis[].id"] == "an external API's identifier"


def test_a_field_without_a_title_is_refused_when_the_words_are_read():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "title": "first field"},
            "b": {"type": "object", "properties": {"c": {"type": "integer"}}},
            "d": {"type": "string", "title": ""},
        },
    }
    with pytest.raises(ValueError, match=r"without a title: \['b\.c', 'd'\]"):
        field_titles(schema)


def test_a_list_of_entries_outside_the_scope_is_refused_when_the_words_are_read():
    entries = {"type": "array", "items": {"properties": {"x": {"title": "x"}}}}
    schema = {"type": "object", "properties": {"hooks": entries}}
    with pytest.raises(ValueError, match=r"hooks\[\]\.x"):
        field_titles(schema)


def test_several_fields_read_as_one_phrase():
    assert m.fields_named([]) == ""
    assert m.fields_named(["rollback.plan"]) == "the rollback plan (rollback.plan)"
    assert m.fields_named(["logging.retention_days", "rollback.plan"]) == (
        "the log retention (logging.retention_days) and the rollback plan (rollback.plan)"
    )
    assert m.fields_named(["kill_switch.owner", "rollback.plan", "scope.tools[].access"]) == (
        "the kill-switch owner (kill_switch.owner), the rollback plan (rollback.plan) and "
        "a tool's access (scope.tools[].access)"
    )


def test_a_path_the_schema_does_not_know_is_named_as_it_is():
    assert m.field_named("scope.tools[].colour") == "scope.tools[].colour"
