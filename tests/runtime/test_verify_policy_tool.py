"""tools/verify-policy checks a downloaded bundle and its signature offline."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit import signing
from tests.approvals.emergency import emergency_grant
from tests.audit.test_checkpoint_key_rotation import rotate

pytestmark = pytest.mark.django_db
SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "verify-policy"


def run(*args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=60
    )


def test_a_downloaded_bundle_verifies_and_a_changed_one_does_not(
    approved, agent, gateway, tmp_path
):
    base = f"/api/v1/agents/{agent.slug}/policy"
    bundle, signature, key = tmp_path / "b.json", tmp_path / "b.json.sig", tmp_path / "key.pem"
    bundle.write_bytes(gateway.get(base + "?download=1").content)
    response = gateway.get(base + "?download=signature")
    assert response["Content-Disposition"].endswith('.cedar.json.sig"')
    signature.write_bytes(response.content)
    key.write_text(signing.public_key_pem())

    ok = run(bundle, signature, "--public-key", key, "--fingerprint", signing.fingerprint())
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith(f"OK: {agent.slug} v{approved.version} digest {approved.digest}")

    wrong_key = run(bundle, signature, "--public-key", key, "--fingerprint", "0" * 64)
    assert wrong_key.returncode == 1
    bundle.write_bytes(bundle.read_bytes().replace(b'"allow"', b'"deny"', 1))
    changed = run(bundle, signature, "--public-key", key)
    assert changed.returncode == 1 and "signature does not match" in changed.stdout


def test_a_bundle_of_a_first_version_on_an_emergency_verifies_until_its_box_ends(
    workflow, agent, gateway, tmp_path
):
    emergency = emergency_grant(workflow, workflow.submit(agent))
    base = f"/api/v1/agents/{agent.slug}/policy"
    bundle, signature, key = tmp_path / "b.json", tmp_path / "b.json.sig", tmp_path / "key.pem"
    bundle.write_bytes(gateway.get(base + "?download=1").content)
    signature.write_bytes(gateway.get(base + "?download=signature").content)
    key.write_text(signing.public_key_pem())
    assert json.loads(bundle.read_bytes())["emergency"]["ends_at"] == emergency.ends_at.isoformat()
    ok = run(bundle, signature, "--public-key", key)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith(f"OK: {agent.slug} vNone digest None expires None (allow)")
    assert f"; emergency v1 digest {emergency.package.digest} until" in ok.stdout


def test_a_bundle_signed_by_another_key_is_told_apart_from_a_changed_one(
    approved, agent, gateway, tmp_path, settings
):
    base = f"/api/v1/agents/{agent.slug}/policy"
    old_key, new_key = tmp_path / "old.pem", tmp_path / "new.pem"
    old_key.write_text(signing.public_key_pem())
    old = signing.fingerprint()
    rotate(settings)
    new_key.write_text(signing.public_key_pem())
    bundle, signature = tmp_path / "b.json", tmp_path / "b.json.sig"
    bundle.write_bytes(gateway.get(base + "?download=1").content)
    signature.write_bytes(gateway.get(base + "?download=signature").content)

    only_old = run(bundle, signature, "--public-key", old_key)
    assert only_old.returncode == 1
    assert only_old.stdout.startswith(
        f"FAIL: the bundle names signing key {signing.fingerprint()}, none of the keys given "
        f"({old})"
    ), only_old.stdout
    both = run(bundle, signature, "--public-key", old_key, "--public-key", new_key)
    assert both.returncode == 0, both.stdout + both.stderr
    # Every key of a PEM file is read: the key and the keys it replaced may share one.
    one_file = tmp_path / "keys.pem"
    one_file.write_text(old_key.read_text() + new_key.read_text())
    in_one_file = run(bundle, signature, "--public-key", one_file)
    assert in_one_file.returncode == 0, in_one_file.stdout + in_one_file.stderr
    bundle.write_bytes(bundle.read_bytes().replace(b'"allow"', b'"deny"', 1))
    changed = run(bundle, signature, "--public-key", old_key, "--public-key", new_key)
    assert changed.returncode == 1 and "signature does not match" in changed.stdout
    # A changed bundle naming a "key" of its own words cannot print them as a verdict.
    forged = json.loads(bundle.read_bytes())
    forged["key_fingerprint"] = "x\nOK: all good\x1b[8m"
    bundle.write_text(json.dumps(forged))
    said = run(bundle, signature, "--public-key", old_key)
    assert said.returncode == 1
    assert said.stdout == "FAIL: the signature does not match the bundle's bytes and this key\n"


# The evidence key signs more than bundles (an evidence bundle's MANIFEST, checkpoints): one of
# those, given in a bundle's place, verifies and must still be refused as no bundle.
@pytest.mark.parametrize(
    "body",
    [
        b"3f2a  bundle.json\n",
        b"[1, 2]",
        b'{"format": "countersign.evidence/1", "emergency": "none"}',
    ],
)
def test_something_else_the_key_signed_is_no_bundle(body, tmp_path):
    bundle, key = tmp_path / "b.json", tmp_path / "key.pem"
    bundle.write_bytes(body)
    key.write_text(signing.public_key_pem())
    result = run(bundle, signing.sign(body), "--public-key", key)
    assert result.returncode == 1, result.stderr
    assert result.stdout == "FAIL: not a countersign.cedar-policy/1 bundle\n"
    assert "Traceback" not in result.stderr


def test_a_signature_file_that_is_not_there_is_unreadable_not_a_changed_bundle(
    approved, agent, gateway, tmp_path
):
    bundle, key = tmp_path / "b.json", tmp_path / "key.pem"
    bundle.write_bytes(gateway.get(f"/api/v1/agents/{agent.slug}/policy?download=1").content)
    key.write_text(signing.public_key_pem())
    missing = tmp_path / "b.json.sig"
    result = run(bundle, missing, "--public-key", key)
    assert result.returncode == 2, result.stdout
    assert result.stderr == (
        f"cannot read: {missing} is neither a file nor a base64 Ed25519 signature\n"
    )
