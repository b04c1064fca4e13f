"""tools/verify-evidence hashes events as audit.chain defines it.

The script runs alone, with its own copy of the definition; this holds the copy
to the original over events with every kind of value, read back from a bundle's
events.jsonl as the script reads them. The bundles themselves are checked in
tests/audit/test_evidence.py.
"""

import importlib.machinery
import importlib.util
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.chain import HASHED_FIELDS, event_hash, format_time
from tests.audit.strategies import TRICKY, stored_columns

# tools/verify-evidence is a script without a .py suffix: loaded from its path.
_PATH = Path(__file__).resolve().parents[2] / "tools" / "verify-evidence"
_LOADER = importlib.machinery.SourceFileLoader("verify_evidence", str(_PATH))
_SPEC = importlib.util.spec_from_loader("verify_evidence", _LOADER)
verify_evidence = importlib.util.module_from_spec(_SPEC)
_LOADER.exec_module(verify_evidence)

hex_hashes = st.text("0123456789abcdef", min_size=64, max_size=64)


def as_in_a_bundle(fields: dict) -> dict:
    """Return an event as the script reads it from events.jsonl (audit.evidence writes it)."""
    line = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    (event,) = verify_evidence.jsonl(f"{line}\n".encode())
    return event


def test_the_script_hashes_the_same_fields():
    assert verify_evidence.HASHED_FIELDS == HASHED_FIELDS


@settings(max_examples=300)
@given(columns=stored_columns, seq=st.integers(min_value=1, max_value=2**62), prev=hex_hashes)
def test_the_script_hashes_any_event_as_the_definition(columns, seq, prev):
    fields = {**columns, "seq": seq, "created_at": format_time(columns["created_at"])}
    event = as_in_a_bundle(fields)
    assert verify_evidence.event_hash(prev, event) == event_hash(prev, fields)


def test_the_script_hashes_tricky_text_as_the_definition():
    for text in TRICKY:
        fields = {
            **{name: text for name in HASHED_FIELDS},
            "seq": 7,
            "package_version": None,
            "before": {text: [text, None, 2**70, 1.5]},
            "after": [text],
            "data": {"": {text: text}},
        }
        event = as_in_a_bundle(fields)
        assert verify_evidence.event_hash("0" * 64, event) == event_hash("0" * 64, fields), text
