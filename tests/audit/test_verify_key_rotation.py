"""Signed checkpoints keep anchoring the chain across a rotation of SIGNING_KEY.

A checkpoint is checked with the key that signed it when that key is trusted: the
current one, a retired one in RETIRED_SIGNING_PUBLIC_KEYS, or one given to
`audit verify --trusted-key`. A checkpoint the auditor hands over that no trusted
key can check fails the verification; a stored one is a warning. Every result
names the keys it trusted.
"""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from audit import signing
from audit.actors import Actor
from audit.chain import event_hash, stored_fields
from audit.checkpoints import (
    CHECKPOINT_INVALID,
    CHECKPOINT_UNTRUSTED,
    checkpoint_create,
    checkpoint_export,
)
from audit.models import AuditEvent
from audit.verification import verification_request, verification_run
from audit.verify import CHECKPOINT_MISMATCH, TRUNCATED, audit_verify
from tests.audit.conftest import pem_of
from tests.audit.test_verify_database import record, sql

pytestmark = pytest.mark.django_db


def rotate(settings, *, keep_trusting: bool = False) -> str:
    """Give SIGNING_KEY a new key, as an operator rotating it does; return the old fingerprint.

    With `keep_trusting` the old public key goes to RETIRED_SIGNING_PUBLIC_KEYS, as the
    rotation procedure says.
    """
    old = signing.public_key()
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "SIGNING_KEY": pem_of(Ed25519PrivateKey.generate()),
        "RETIRED_SIGNING_PUBLIC_KEYS": signing.public_key_pem(old) if keep_trusting else "",
    }
    return signing.fingerprint(old)


def exported_head(tmp_path) -> tuple[dict, str]:
    """Sign the head now; return the exported checkpoint and the file it is kept in."""
    document = checkpoint_export(checkpoint_create(actor=Actor.system("tests")))
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(document))
    return document, str(path)


def cut_tail_from(seq: int) -> None:
    """Drop the newest events and the stored checkpoints, as an intruder covering tracks would."""
    sql("DELETE FROM audit_checkpoint", table="audit_checkpoint")
    sql("DELETE FROM audit_auditevent WHERE seq >= %s", [seq])


def rehash_from(seq: int) -> None:
    """Edit event `seq` and re-hash the chain from it, so that the chain alone looks whole."""
    sql("UPDATE audit_auditevent SET action = 'package.rejected' WHERE seq = %s", [seq])
    prev = AuditEvent.objects.get(seq=seq - 1).hash
    for event in AuditEvent.objects.filter(seq__gte=seq).order_by("seq"):
        digest = event_hash(prev, stored_fields(event))
        sql(
            "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE seq = %s",
            [prev, digest, event.seq],
        )
        prev = digest


def verify_command(*args: str) -> int:
    """Run `manage.py audit verify` with args; return its exit status."""
    try:
        call_command("audit", "verify", "--workers", "1", *args)
    except SystemExit as exit_:
        return exit_.code
    return 0


def test_a_given_checkpoint_no_trusted_key_can_check_fails_the_command_naming_its_key(
    settings, tmp_path, capsys
):
    record(6)
    _, path = exported_head(tmp_path)
    old = rotate(settings)
    cut_tail_from(4)
    assert verify_command("--checkpoint", path) == 1
    err = capsys.readouterr().err
    assert f"NOT VERIFIED ({CHECKPOINT_UNTRUSTED})" in err
    assert old in err and "--trusted-key" in err


def test_a_given_untrusted_checkpoint_fails_even_where_the_chain_is_whole(settings, tmp_path):
    record(6)
    document, _ = exported_head(tmp_path)
    rotate(settings)
    result = audit_verify(extra_checkpoints=[document])
    assert (result.ok, result.reason, result.broken_seq) == (False, CHECKPOINT_UNTRUSTED, None)


def test_a_retired_key_still_catches_a_cut_tail_with_a_given_checkpoint(settings, tmp_path):
    record(6)
    document, _ = exported_head(tmp_path)
    old = rotate(settings, keep_trusting=True)
    cut_tail_from(4)
    result = audit_verify(extra_checkpoints=[document])
    assert (result.ok, result.broken_seq, result.reason) == (False, 4, TRUNCATED)
    assert result.signing_keys == [
        {"fingerprint": signing.fingerprint(), "source": signing.CURRENT, "checkpoints": 0},
        {"fingerprint": old, "source": signing.RETIRED, "checkpoints": 1},
    ]


def test_a_key_given_to_the_command_catches_a_cut_tail(settings, tmp_path, capsys):
    record(6)
    _, path = exported_head(tmp_path)
    key_file = tmp_path / "old.pem"
    key_file.write_text(signing.public_key_pem())
    old = rotate(settings)
    assert verify_command("--checkpoint", path, "--trusted-key", str(key_file)) == 0
    # The stored checkpoint and its exported copy.
    assert f"key {old} (given): 2 checkpoints checked" in capsys.readouterr().out
    cut_tail_from(4)
    assert verify_command("--checkpoint", path, "--trusted-key", str(key_file)) == 1
    assert f"({TRUNCATED})" in capsys.readouterr().err


def test_a_stored_checkpoint_of_a_retired_key_catches_a_rehashed_chain(settings):
    record(6)
    checkpoint_create(actor=Actor.system("tests"))
    rotate(settings, keep_trusting=True)
    rehash_from(3)
    result = audit_verify()
    assert (result.ok, result.broken_seq, result.reason) == (False, 6, CHECKPOINT_MISMATCH)


def test_a_stored_checkpoint_with_a_forged_signature_of_a_retired_key_is_invalid(settings):
    record(3)
    checkpoint = checkpoint_create(actor=Actor.system("tests"))
    rotate(settings, keep_trusting=True)
    sql(
        "UPDATE audit_checkpoint SET signature = 'AAAA' WHERE id = %s",
        [checkpoint.pk],
        table="audit_checkpoint",
    )
    result = audit_verify()
    assert (result.ok, result.broken_seq, result.reason) == (False, 3, CHECKPOINT_INVALID)


def test_a_stored_checkpoint_of_an_unknown_key_is_a_warning_naming_the_key(settings):
    """The chain is no less whole for it: the verdict stands, the warning says what to do."""
    record(4)
    checkpoint_create(actor=Actor.system("tests"))
    old = rotate(settings)
    result = audit_verify()
    assert result.ok and result.checkpoints == 0
    assert [warning for warning in result.warnings if old in warning] == [
        f"The checkpoint at 4 is signed by key {old}, which is neither the signing key nor a "
        "retired one trusted; not used. If it is a key you retired, add its public key to "
        "RETIRED_SIGNING_PUBLIC_KEYS."
    ]
    assert result.signing_keys == [
        {"fingerprint": signing.fingerprint(), "source": signing.CURRENT, "checkpoints": 0}
    ]


def test_the_command_names_the_keys_it_checked_with(tmp_path, capsys):
    record(4)
    checkpoint_create(actor=Actor.system("tests"))
    assert verify_command() == 0
    out = capsys.readouterr().out
    assert f"key {signing.fingerprint()} (current): 1 checkpoint checked" in out
    assert verify_command("--json") == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["signing_keys"] == [
        {"fingerprint": signing.fingerprint(), "source": signing.CURRENT, "checkpoints": 1}
    ]


def test_the_api_names_the_keys_it_checked_with(settings, client, staff):
    record(4)
    checkpoint_create(actor=Actor.system("tests"))
    old = rotate(settings, keep_trusting=True)
    record(1)
    checkpoint_create(actor=Actor.system("tests"))
    client.force_login(staff)
    result = client.get("/api/v1/audit/verify").json()
    assert (result["ok"], result["checkpoints"]) == (True, 2)
    assert result["signing_keys"] == [
        {"fingerprint": signing.fingerprint(), "source": signing.CURRENT, "checkpoints": 1},
        {"fingerprint": old, "source": signing.RETIRED, "checkpoints": 1},
    ]


def test_the_verification_page_and_its_event_name_the_keys(settings, client, reviewers):
    record(4)
    checkpoint_create(actor=Actor.system("tests"))
    old = rotate(settings, keep_trusting=True)
    reader = reviewers["compliance"][0]
    run, _ = verification_request(actor=Actor.for_user(reader))
    verification_run(run_id=run.pk)
    client.force_login(reader)
    html = client.get(reverse("audit-verification", args=[run.pk])).content.decode()
    assert f"<dt>Retired key</dt><dd><code>{old}</code>: checked 1 checkpoint</dd>" in html
    assert f"<dt>Current key</dt><dd><code>{signing.fingerprint()}</code>: checked 0" in html
    event = AuditEvent.objects.get(action="audit.chain_verified")
    assert [key["fingerprint"] for key in event.data["signing_keys"]] == [
        signing.fingerprint(),
        old,
    ]


def test_unreadable_retired_keys_fail_the_configuration_check(settings):
    settings.COUNTERSIGN = {
        **settings.COUNTERSIGN,
        "RETIRED_SIGNING_PUBLIC_KEYS": pem_of(Ed25519PrivateKey.generate()),
    }
    errors = [error for error in run_checks() if error.id == "audit.E001"]
    assert len(errors) == 1
    assert "RETIRED_SIGNING_PUBLIC_KEYS: block 1 is a PRIVATE KEY" in errors[0].msg


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "holds no PEM public key"),
        ("not a key", "expected only PEM public keys"),
        (pem_of(Ed25519PrivateKey.generate()), "block 1 is a PRIVATE KEY"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "not a readable"),
    ],
    ids=["empty", "text", "private-key", "garbled"],
)
def test_a_trusted_key_file_that_is_no_public_key_is_a_usage_error(tmp_path, content, message):
    record(1)
    key_file = tmp_path / "key.pem"
    key_file.write_text(content)
    with pytest.raises(CommandError, match=message) as error:
        call_command("audit", "verify", "--trusted-key", str(key_file))
    assert error.value.returncode == 2
    assert str(key_file) in str(error.value)


def test_a_checkpoint_file_that_holds_no_checkpoint_is_a_usage_error(tmp_path):
    record(1)
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(["not a checkpoint"]))
    with pytest.raises(CommandError, match="expected an exported checkpoint") as error:
        call_command("audit", "verify", "--checkpoint", str(path))
    assert error.value.returncode == 2
