"""The one definition of what an identifier may hold, and the schemas held to it.

config.identifiers is the definition: Unicode categories Cc and Cf are refused.
The manifest's JSON Schema (read by jsonschema-rs) and the OpenAPI schema
(written by drf-spectacular) carry it as a pattern; these tests hold each of
them to Unicode's categories for every code point.
"""

import re
import sys
import unicodedata

import jsonschema_rs
import pytest
from django.core.exceptions import ValidationError
from drf_spectacular.generators import SchemaGenerator

from api.filters import NOT_BLANK_PATTERN
from approvals import manifest as manifests
from config.identifiers import (
    AGENT_SLUG_MESSAGE,
    AGENT_SLUG_PATTERN,
    IDENTIFIER_PATTERN,
    REFUSED_CHARACTERS,
    agent_slug_message,
    identifier_errors,
    validate_identifier,
)

CODE_POINTS = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
REFUSED_CATEGORIES = {"Cc", "Cf"}


def refused_by_unicode(char: str) -> bool:
    return unicodedata.category(char) in REFUSED_CATEGORIES


def disagreements(refused: set[str]) -> list[str]:
    """Return the code points where ``refused`` and Unicode's categories disagree.

    A code point this Python's Unicode database does not know yet (Cn) may be
    refused: the set also holds format characters of later Unicode versions.
    """
    return [
        f"U+{ord(char):04X}"
        for char in CODE_POINTS
        if (char in refused) != refused_by_unicode(char)
        and not (char in refused and unicodedata.category(char) == "Cn")
    ]


def test_the_refused_set_is_unicode_categories_cc_and_cf():
    pattern = re.compile(f"[{REFUSED_CHARACTERS}]")
    refused = {char for char in CODE_POINTS if pattern.match(char)}
    assert disagreements(refused) == []
    assert {"\x00", "\x07", "\x1b", "\x7f", "\u202e", "\u200b", "\ufeff", "\U000e0001"} <= refused


def python_reading(pattern: str) -> re.Pattern:
    """Return an ECMA-262 pattern as Python reads it, `$` being the end of the text."""
    return re.compile(pattern.removesuffix("$") + r"\Z")


def test_the_manifest_schema_pattern_is_the_definition_and_reads_alike_in_jsonschema_rs():
    schema = manifests.manifest_schema()
    assert schema["$defs"]["identifier_characters"]["pattern"] == IDENTIFIER_PATTERN
    validator = jsonschema_rs.validator_for(
        {
            "$defs": schema["$defs"],
            "type": "array",
            "items": {"$ref": "#/$defs/identifier_characters"},
        }
    )
    failing = {error.instance_path[0] for error in validator.iter_errors(CODE_POINTS)}
    assert disagreements({CODE_POINTS[index] for index in failing}) == []
    pattern = python_reading(IDENTIFIER_PATTERN)
    assert disagreements({char for char in CODE_POINTS if not pattern.match(char)}) == []


def test_an_agent_slug_is_what_a_manifest_may_name():
    """The manifest's `agent` is held to config.identifiers' agent slug, so an agent that
    can be registered can be named by its manifest, and no other."""
    slug = manifests.manifest_schema()["$defs"]["slug"]
    assert (slug["pattern"], slug["description"]) == (AGENT_SLUG_PATTERN, AGENT_SLUG_MESSAGE)
    validator = jsonschema_rs.validator_for(slug)
    for value in ("support-bot", "a1", "9-lives", "x" * 63):
        assert agent_slug_message(value) == "" and validator.is_valid(value)
    for value in ("Support_Bot", "a", "-bot", "x" * 64, "bot\n", "bot.v2", ""):
        assert agent_slug_message(value) == AGENT_SLUG_MESSAGE
        assert not validator.is_valid(value)


def test_the_openapi_schema_carries_the_pattern_on_identifier_fields(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    create, update = components["AgentCreateRequest"], components["PatchedAgentUpdateRequest"]
    items = components["ObservationBatchRequest"]["properties"]["items"]["items"]["oneOf"]
    fields = [
        create["properties"]["log_principal"],
        create["properties"]["team"],
        create["properties"]["owners"]["items"],
        update["properties"]["team"],
        update["properties"]["owners"]["items"],
        *(item["properties"][name] for item in items for name in ("identifier", "source")),
    ]
    # A field that may be blank is one of: the text, or nothing.
    fields = [field["oneOf"][0] if "oneOf" in field else field for field in fields]
    patterns = {
        pattern["pattern"]
        for field in fields
        for pattern in field["allOf"]
        if pattern["pattern"] != NOT_BLANK_PATTERN
    }
    assert len(patterns) == 1, patterns
    pattern = python_reading(patterns.pop())
    assert disagreements({char for char in CODE_POINTS if not pattern.match(char)}) == []


@pytest.mark.parametrize(
    "value", ["agent\x1b[31m", "bell\x07", "rtl\u202eexe.txt", "zero\u200bwidth", "nul\x00"]
)
def test_the_validator_names_the_characters_it_refuses(value):
    with pytest.raises(ValidationError) as refused:
        validate_identifier(value)
    assert refused.value.code == "control_character"
    found = [f"U+{ord(c):04X}" for c in value if refused_by_unicode(c)]
    assert found[0] in refused.value.messages[0]
    assert identifier_errors(value) == [
        f"must not contain control or format characters (found {', '.join(found)})"
    ]


@pytest.mark.parametrize(
    "value", ["agent:support-assistant", "Zürich-Team", "données.clients", "工具", "a b", ""]
)
def test_the_validator_accepts_text_without_them(value):
    validate_identifier(value)
    assert identifier_errors(value) == []
