"""tools/verify-evidence hashes events as audit.chain defines it, digests manifests as
approvals.manifest does, and names a package's events as audit.services does.

The script runs alone, with its own copies of the definitions; this holds the copies
to the originals over events and manifests with every kind of value, read back from
a bundle's files as the script reads them. The bundles themselves are checked in
tests/audit/test_evidence*.py. A file the script cannot read (the bundle, a key file)
exits 2, as it does in tools/verify-policy.
"""

import base64
import importlib.machinery
import importlib.util
import io
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from approvals.evidence import dumps
from approvals.manifest import canonical_json, normalize_manifest, text_digest
from approvals.models import ApprovalPackage
from approvals.rereview import SIGNOFFS_REOPENED
from audit.chain import HASHED_FIELDS, event_hash, format_time
from signoffs.models import SignOffState, Verdict
from tests.approvals.manifest.helpers import HR, SUPPORT, example
from tests.audit.strategies import TRICKY, json_objects, json_values, stored_columns

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


def as_in_a_bundle_file(manifest: dict) -> dict:
    """Return a manifest as the script reads it from manifest.json (approvals.evidence)."""
    return json.loads(dumps(manifest))


def test_the_script_names_a_package_as_its_events_do():
    assert verify_evidence.PACKAGE_TARGET == ApprovalPackage._meta.label_lower


def test_the_script_names_the_event_setting_decisions_aside_as_the_service_does():
    assert verify_evidence.SIGNOFFS_REOPENED == SIGNOFFS_REOPENED
    assert set(verify_evidence.APPROVED_STATES) == {
        SignOffState.APPROVED,
        SignOffState.CARRIED_OVER,
    }
    assert verify_evidence.APPROVE == Verdict.APPROVE


@pytest.mark.parametrize("name", [HR, SUPPORT])
def test_the_script_digests_a_manifest_as_the_definition(name):
    manifest = normalize_manifest(example(name))
    for text in TRICKY:
        manifest["description"] = text
        manifest["scope"]["tools"][0]["justification"] = text
        expected = text_digest(canonical_json(manifest))
        assert verify_evidence.manifest_digest(as_in_a_bundle_file(manifest)) == expected, text


@settings(max_examples=300)
@given(manifest=json_objects, description=json_values)
def test_the_script_digests_any_manifest_as_the_definition(manifest, description):
    manifest = {**manifest, "description": description}
    expected = text_digest(canonical_json(manifest))
    assert verify_evidence.manifest_digest(as_in_a_bundle_file(manifest)) == expected


def damaged(kind: str) -> bytes:
    """Return a ZIP of one file that zipfile lists but cannot read back, as `kind` says."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("MANIFEST", "x" * 1000)
    data = bytearray(buffer.getvalue())
    central = data.find(b"PK\x01\x02")
    if kind == "deflate":
        data[30 + len("MANIFEST")] = 0xFF  # the first block's type is one no stream uses
    elif kind == "method":
        data[8:10] = data[central + 10 : central + 12] = struct.pack("<H", 9)  # Deflate64
    else:
        data[6] |= 1  # encrypted, and no password to read it with
        data[central + 8] |= 1
    return bytes(data)


@pytest.mark.parametrize("kind", ["deflate", "method", "encrypted"])
def test_an_archive_zipfile_cannot_read_back_is_unreadable_not_a_crash(kind, tmp_path):
    path = tmp_path / "bundle.zip"
    path.write_bytes(damaged(kind))
    result = subprocess.run(
        [sys.executable, str(_PATH), str(path), "--fingerprint", "0" * 64],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: cannot read {path}: "), result.stderr
    assert "Traceback" not in result.stderr


def unknown_key_type_pem() -> bytes:
    """Return a PEM public key of an algorithm nobody knows (a private-use OID)."""
    oid = bytes([0x06, 0x09, 0x2B, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8D, 0x1F, 0x01])
    body = bytes([0x30, len(oid)]) + oid + bytes([0x03, 33, 0x00]) + bytes(32)
    der = bytes([0x30, len(body)]) + body
    return b"-----BEGIN PUBLIC KEY-----\n%s-----END PUBLIC KEY-----\n" % base64.encodebytes(der)


def ec_public_pem() -> bytes:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


@pytest.mark.parametrize("tool", ["verify-evidence", "verify-policy"])
@pytest.mark.parametrize(
    "content",
    [
        None,
        b"",
        b"not a key\n",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        ec_public_pem(),
        unknown_key_type_pem(),
    ],
)
def test_a_key_file_that_cannot_be_read_or_parsed_exits_2_in_both_verifiers(
    tool, content, tmp_path
):
    """One rule for both verifiers: a --public-key file that cannot be opened, or holds no
    Ed25519 PEM key, is a file that cannot be read (2), not a bundle that fails (1)."""
    key = tmp_path / "key.pem"
    if content is not None:
        key.write_bytes(content)
    bundle = tmp_path / "bundle"
    if tool == "verify-evidence":
        with zipfile.ZipFile(bundle, "w") as archive:
            archive.writestr("MANIFEST", "")
        args = [bundle]
    else:
        bundle.write_bytes(b"{}")
        args = [bundle, base64.b64encode(bytes(64)).decode()]
    result = subprocess.run(
        [sys.executable, str(_PATH.parent / tool), *map(str, args), "--public-key", str(key)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"cannot read the public key {key}: " in result.stderr
    assert "Traceback" not in result.stderr
