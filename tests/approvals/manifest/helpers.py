"""Reference manifests and ways to change them, for the manifest tests."""

import copy
from pathlib import Path

import pytest
import yaml

from approvals import manifest as m

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SUPPORT = "support-agent.yaml"
HR = "hr-copilot.yaml"


def example_text(name: str) -> str:
    """Return the text of a reference manifest."""
    return (EXAMPLES / name).read_text(encoding="utf-8")


def example(name: str) -> dict:
    """Return a reference manifest as PyYAML parses it (dates and all)."""
    return yaml.safe_load(example_text(name))


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
