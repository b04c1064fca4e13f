"""After a rotation of SIGNING_KEY, the chain head is signed again with the new key.

An evidence bundle is signed with the current key and its reader checks every
checkpoint in it with that one key: a head signed only with the old key leaves the
bundle without its closing checkpoint.
"""

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from approvals.evidence import package_evidence
from audit import signing
from audit.actors import Actor
from audit.checkpoints import checkpoint_create
from audit.models import Checkpoint
from tests.audit.conftest import pem_of
from tests.audit.test_evidence import run_verifier
from tests.audit.test_verify_database import record

pytestmark = pytest.mark.django_db


def rotate(settings) -> None:
    """Give SIGNING_KEY a new key, as an operator rotating it does."""
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "SIGNING_KEY": pem_of(Ed25519PrivateKey.generate()),
    }


def test_the_unmoved_head_is_signed_again_with_the_new_key_once(settings):
    record(3)
    before = checkpoint_create(actor=Actor.system("tests"))
    old = signing.fingerprint()
    rotate(settings)
    after = checkpoint_create(actor=Actor.system("tests"))
    assert after.pk != before.pk
    assert (after.seq, after.head_hash) == (before.seq, before.head_hash)
    assert after.public_key_fingerprint == signing.fingerprint() != old
    assert checkpoint_create(actor=Actor.system("tests")).pk == after.pk
    assert sorted(Checkpoint.objects.values_list("public_key_fingerprint", flat=True)) == sorted(
        [old, signing.fingerprint()]
    )


def test_a_bundle_made_after_a_rotation_with_the_head_unmoved_verifies(
    settings, workflow, agent, tmp_path
):
    package = workflow.approve(agent)
    package_evidence(actor=Actor.system("tests"), package=package)  # signs the head, old key
    rotate(settings)
    _, handle = package_evidence(actor=Actor.system("tests"), package=package)
    path = tmp_path / "after-rotation.zip"
    path.write_bytes(handle.read())
    result = run_verifier(path, "--fingerprint", signing.fingerprint())
    assert result.returncode == 0, result.stdout
