"""A bundle signed before a rotation of SIGNING_KEY still verifies, and says which key signed it.

Its reader pins the fingerprints Countersign publishes: the audit page and
`GET /api/v1/audit/public-key` list the retired keys beside the current one, and
`tools/verify-evidence` tells a bundle signed by a key not pinned from one changed
after it was signed.
"""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.urls import reverse

from approvals.evidence import package_evidence
from audit import signing
from audit.actors import Actor
from tests.audit.test_checkpoint_key_rotation import rotate
from tests.audit.test_evidence import read, resign, run_verifier, write

pytestmark = pytest.mark.django_db


@pytest.fixture
def rotated(settings, workflow, agent, tmp_path):
    """Return a bundle made with the old key and the old key's fingerprint, after a rotation."""
    package = workflow.approve(agent)
    _, handle = package_evidence(actor=Actor.system("tests"), package=package)
    path = tmp_path / "before-rotation.zip"
    path.write_bytes(handle.read())
    old_pem, old = signing.public_key_pem(), signing.fingerprint()
    rotate(settings)
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "RETIRED_SIGNING_PUBLIC_KEYS": old_pem}
    return path, old


def test_a_bundle_signed_before_a_rotation_is_told_apart_from_a_changed_one(rotated, tmp_path):
    path, old = rotated
    new = signing.fingerprint()
    result = run_verifier(path, "--fingerprint", new)
    assert result.returncode == 1
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert failed == [
        f"FAIL signed by a trusted key: signed by key {old}, which is none of the trusted keys "
        f"({new}); the checks below use the bundled key"
    ], result.stdout
    assert "ok   checkpoints" in result.stdout and "ok   MANIFEST signature" in result.stdout
    assert (
        result.stdout.strip()
        .splitlines()[-1]
        .startswith(
            f"NOT VERIFIED: signed by key {old}, which is not trusted; its content is intact"
        )
    )
    as_json = json.loads(run_verifier(path, "--fingerprint", new, "--json").stdout)
    assert (as_json["ok"], as_json["untrusted_signer"]) == (False, old)

    # Changed after signing: the signature says so, whatever key is pinned.
    files = read(path)
    changed = bytearray(files["signoffs.json"])
    changed[len(changed) // 2] ^= 1
    tampered = write(tmp_path / "tampered.zip", {**files, "signoffs.json": bytes(changed)})
    result = run_verifier(tampered, "--fingerprint", new)
    assert "FAIL file signoffs.json: SHA-256 differs" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "NOT VERIFIED"


def test_the_published_fingerprints_verify_bundles_of_either_key(rotated, settings, workflow):
    path, old = rotated
    published = [signing.fingerprint(), *signing.retired_fingerprints()]
    assert published[1] == old
    pinned = [arg for fingerprint in published for arg in ("--fingerprint", fingerprint)]
    result = run_verifier(path, *pinned)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith("VERIFIED")


def test_every_key_of_a_public_key_file_is_trusted(rotated, tmp_path):
    """The current key and the keys it replaced may be given in one PEM file."""
    path, _ = rotated
    keys = tmp_path / "keys.pem"
    retired = signing.public_key_pem(signing.retired_public_keys()[0])
    keys.write_text(signing.public_key_pem() + retired)
    result = run_verifier(path, "--public-key", str(keys))
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith("VERIFIED")


def test_a_bundle_re_signed_by_an_unknown_key_is_not_intact(rotated, tmp_path):
    """The friendly verdict needs the content to hold: a forger's own key does not give it."""
    path, _ = rotated
    forger = Ed25519PrivateKey.generate()
    pem = forger.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = write(tmp_path / "forged.zip", resign({**read(path), "public_key.pem": pem}, forger))
    result = run_verifier(forged, "--fingerprint", signing.fingerprint())
    assert "FAIL checkpoints" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "NOT VERIFIED"


def test_the_audit_page_and_the_api_list_the_retired_keys(rotated, client, reviewers):
    _, old = rotated
    new = signing.fingerprint()
    client.force_login(reviewers["compliance"][0])
    html = client.get(reverse("audit-log")).content.decode()
    assert f"tools/verify-evidence --fingerprint {new} --fingerprint {old} BUNDLE.zip" in html
    assert f'<li><code class="fingerprint">{old}</code></li>' in html
    key = client.get("/api/v1/audit/public-key").json()
    assert key["fingerprint"] == new
    assert [retired["fingerprint"] for retired in key["retired"]] == [old]
    assert key["retired"][0]["public_key"] == signing.public_key_pem(
        signing.retired_public_keys()[0]
    )
