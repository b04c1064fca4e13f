"""docs/api.md shows the answers the API gives: its examples are compared with real ones."""

import json
import re
from pathlib import Path

import pytest

from tests.api.conftest import check, plain
from tests.factories import manifest_for

pytestmark = pytest.mark.django_db

API_GUIDE = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")


def example_after(heading: str) -> dict:
    """Return the first JSON example of the guide's section under the heading."""
    section = API_GUIDE.split(f"\n{heading}\n", 1)[1]
    return json.loads(re.search(r"```json\n(.*?)```", section, flags=re.S).group(1))


def shape(value):
    """Return what a reader relies on in an answer: its keys, nested, and where lists are."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    return None


def test_the_gate_example_is_shaped_as_a_scope_mismatch_answer(ci, agent, approved):
    shown = example_after("## The release gate")
    manifest = plain(manifest_for(agent))
    [kb_search] = [tool for tool in manifest["scope"]["tools"] if tool["id"] == "kb-search"]
    kb_search["access"] = "write"
    answer = check(ci, agent=agent.slug, manifest=manifest)
    assert shape(shown) == shape(answer)
    shown_reason, reason = shown["reasons"][0], answer["reasons"][0]
    assert shown_reason["code"] == reason["code"] == "scope_mismatch"
    assert shown_reason["expansions"] == reason["expansions"]
