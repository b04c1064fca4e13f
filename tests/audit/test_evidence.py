"""The evidence bundle of a package version, and the offline verifier that checks it."""

import copy
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from approvals.evidence import package_evidence
from approvals.models import PackageState
from audit import signing
from audit.actors import Actor
from audit.models import Checkpoint
from signoffs.models import Decision, Dimension
from tests.factories import UserFactory, manifest_for

pytestmark = pytest.mark.django_db

VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "verify-evidence"


def run_verifier(bundle: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(VERIFIER), str(bundle), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def read(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def write(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return path


def resign(files: dict[str, bytes], key=None) -> dict[str, bytes]:
    """Rebuild MANIFEST and its signature, as an insider holding a signing key would."""
    sums = {
        name: hashlib.sha256(content).hexdigest()
        for name, content in files.items()
        if name not in ("MANIFEST", "MANIFEST.sig")
    }
    manifest = "".join(f"{sums[name]}  {name}\n" for name in sorted(sums)).encode()
    if key is None:
        signature = signing.sign(manifest)
    else:
        import base64

        signature = base64.b64encode(key.sign(manifest)).decode()
    return {**files, "MANIFEST": manifest, "MANIFEST.sig": (signature + "\n").encode()}


@pytest.fixture
def approved(workflow, agent):
    """Version 1 approved, then version 2 (more scope) approved: v2's diff is against v1."""
    workflow.approve(agent)
    manifest = manifest_for(agent, justification="Second release: handle refunds faster.")
    manifest["scope"]["tools"].append({"id": "refund-desk", "access": "write"})
    return workflow.approve(agent, manifest)


@pytest.fixture
def bundle(approved, tmp_path) -> Path:
    name, handle = package_evidence(actor=Actor.system("tests"), package=approved)
    assert name == f"evidence-{approved.agent.slug}-v2.zip"
    path = tmp_path / name
    path.write_bytes(handle.read())
    return path


@pytest.fixture
def public_key_file(tmp_path) -> Path:
    path = tmp_path / "trusted.pem"
    path.write_text(signing.public_key_pem())
    return path


def test_bundle_holds_the_package_its_reviews_and_the_chain(bundle, approved):
    files = read(bundle)
    assert {
        "bundle.json",
        "package.json",
        "manifest.json",
        "diff.json",
        "signoffs.json",
        "eligibility.json",
        "comments.json",
        "summary.html",
        "events.jsonl",
        "chain.jsonl",
        "checkpoints.json",
        "public_key.pem",
        "MANIFEST",
        "MANIFEST.sig",
    } == set(files)
    package = json.loads(files["package.json"])
    assert package["package"]["version"] == 2 and package["package"]["state"] == "approved"
    assert package["package"]["digest"] == approved.digest
    assert json.loads(files["diff.json"])["base_version"] == 1
    signoffs = json.loads(files["signoffs.json"])
    assert {s["dimension"] for s in signoffs} == set(Dimension.values)
    decisions = [d for s in signoffs for d in s["decisions"]]
    assert len(decisions) == Decision.objects.filter(signoff__package=approved).count()
    answered = decisions[0]["answered_items"][0]
    assert answered["text"] and answered["controls"], "checklist answers cite their controls"
    events = [json.loads(line) for line in files["events.jsonl"].splitlines()]
    assert {e["agent_slug"] for e in events} == {approved.agent.slug}
    assert {"package.created", "package.submitted", "signoff.decided", "package.approved"} <= {
        e["action"] for e in events
    }
    assert all(e["package_version"] == 2 for e in events if e["action"] == "signoff.decided")
    checkpoints = json.loads(files["checkpoints.json"])
    chain = [json.loads(line) for line in files["chain.jsonl"].splitlines()]
    assert checkpoints[-1]["seq"] == chain[-1]["seq"]
    assert signing.fingerprint() in files["summary.html"].decode()
    assert json.loads(files["bundle.json"])["public_key_fingerprint"] == signing.fingerprint()


def test_the_summary_shows_values_in_words(bundle, approved):
    """The auditor's summary uses the pages' labels, not the stored values."""
    summary = read(bundle)["summary.html"].decode()
    assert f"State <b>Approved</b>, risk tier <b>{approved.get_risk_tier_display()}</b>." in summary
    assert "<tr><td>Security</td><td>Approved</td>" in summary
    assert (
        '<tr><td>Scope expansion</td><td>Tool refund-desk: added <code class="path">'
        "scope.tools[refund-desk]</code></td></tr>"
    ) in summary
    assert ">approve<" not in summary and "<td>security</td>" not in summary


def test_the_summary_names_each_changed_field_in_words_with_its_path(bundle, approved):
    summary = read(bundle)["summary.html"].decode()
    assert (
        "<tr><td>Narrative</td><td>Business justification: Answers support questions, opens "
        "tickets and issues small refunds. → Second release: handle refunds faster. "
        '<code class="path">justification</code></td></tr>'
    ) in summary
    assert "<td>justification</td>" not in summary and "->" not in summary


def test_fresh_bundle_verifies(bundle, public_key_file):
    result = run_verifier(bundle, "--public-key", str(public_key_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "VERIFIED" in result.stdout
    pinned = run_verifier(bundle, "--fingerprint", signing.fingerprint(), "--json")
    assert pinned.returncode == 0 and json.loads(pinned.stdout)["ok"] is True


def test_no_verdict_without_a_trusted_key(bundle):
    result = run_verifier(bundle)
    assert result.returncode == 1
    assert "FAIL a trusted key is given" in result.stdout
    assert result.stdout.strip().endswith("NOT VERIFIED")
    trusting = run_verifier(bundle, "--trust-bundled-key")
    assert trusting.returncode == 0 and trusting.stdout.strip().endswith("VERIFIED")
    assert "--trust-bundled-key: trusting the key inside the bundle" in trusting.stderr


def test_one_byte_changed_in_any_file_is_rejected(bundle, tmp_path, public_key_file):
    files = read(bundle)
    for name, content in files.items():
        changed = bytearray(content)
        position = len(changed) // 2
        changed[position] = (changed[position] + 1) % 256
        tampered = write(tmp_path / f"byte-{name}.zip", {**files, name: bytes(changed)})
        result = run_verifier(tampered, "--public-key", str(public_key_file))
        assert result.returncode != 0, f"one byte changed in {name} went unnoticed"


def test_a_removed_file_is_rejected(bundle, tmp_path, public_key_file):
    files = read(bundle)
    for name in files:
        kept = {n: c for n, c in files.items() if n != name}
        result = run_verifier(
            write(tmp_path / f"without-{name}.zip", kept), "--fingerprint", signing.fingerprint()
        )
        assert result.returncode != 0, f"removing {name} went unnoticed"


def test_a_file_named_twice_is_rejected(bundle, tmp_path):
    files = read(bundle)
    path = tmp_path / "twice.zip"
    with zipfile.ZipFile(path, "w") as archive, pytest.warns(UserWarning, match="Duplicate"):
        # Extractors that keep the first of two entries would show this summary.
        archive.writestr("summary.html", b"<p>Every dimension approved.</p>")
        for name, content in files.items():
            archive.writestr(name, content)
    result = run_verifier(path, "--fingerprint", signing.fingerprint())
    assert result.returncode == 1
    assert "FAIL each file named once: summary.html" in result.stdout


def test_names_from_a_forged_bundle_cannot_write_the_verdict(bundle, tmp_path):
    # A line break prints a verdict of its own; ESC[8m hides the text after it in a terminal.
    name = "notes\nok   every check\nVERIFIED\x1b[8m\u202e"
    files = {**read(bundle), name: b"."}
    result = run_verifier(
        write(tmp_path / "forged.zip", files), "--fingerprint", signing.fingerprint()
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    escaped = "notes\\nok   every check\\nVERIFIED\\x1b[8m\\u202e"
    assert f"FAIL file {escaped}: present but not listed in MANIFEST" in lines
    assert lines[-1] == "NOT VERIFIED" and "VERIFIED" not in lines[:-1]
    assert "\x1b" not in result.stdout + result.stderr


def test_a_wrong_key_is_rejected(bundle, tmp_path):
    other = Ed25519PrivateKey.generate()
    other_pem = other.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (tmp_path / "other.pem").write_bytes(other_pem)
    assert run_verifier(bundle, "--public-key", str(tmp_path / "other.pem")).returncode == 1
    # Re-signed by another key that ships its own public key: the pin catches it.
    files = resign({**read(bundle), "public_key.pem": other_pem}, key=other)
    forged = write(tmp_path / "forged.zip", files)
    result = run_verifier(forged, "--fingerprint", signing.fingerprint())
    assert result.returncode == 1
    assert "FAIL signed by a trusted key" in result.stdout
    assert result.stdout.strip().endswith("NOT VERIFIED"), "its checkpoints give it away"
    # Trusting the bundled key, its checkpoints, signed by the real key, still give it away.
    result = run_verifier(forged, "--trust-bundled-key")
    assert result.returncode == 1 and "FAIL checkpoints" in result.stdout


def test_a_decision_missing_from_the_chain_is_rejected(bundle, tmp_path):
    files = read(bundle)
    decision_id = json.loads(files["signoffs.json"])[0]["decisions"][0]["id"]
    lines = files["events.jsonl"].decode().splitlines(keepends=True)

    def is_the_decision(line):
        event = json.loads(line)
        return event["action"] == "signoff.decided" and event["target_id"] == str(decision_id)

    removed = [json.loads(line)["seq"] for line in lines if is_the_decision(line)]
    assert len(removed) == 1
    # Removed from the full events, re-signed by an insider with the real key.
    events = "".join(line for line in lines if not is_the_decision(line)).encode()
    forged = write(tmp_path / "no-event.zip", resign({**files, "events.jsonl": events}))
    result = run_verifier(forged, "--fingerprint", signing.fingerprint())
    assert result.returncode == 1
    assert f"decision {decision_id}" in result.stdout
    # Removed from the chain segment as well: the links break.
    chain = "".join(
        line
        for line in files["chain.jsonl"].decode().splitlines(keepends=True)
        if json.loads(line)["seq"] != removed[0]
    ).encode()
    forged = write(
        tmp_path / "no-link.zip", resign({**files, "events.jsonl": events, "chain.jsonl": chain})
    )
    result = run_verifier(forged, "--fingerprint", signing.fingerprint())
    assert result.returncode == 1
    assert "FAIL chain segment links" in result.stdout


def test_an_edited_decision_is_rejected(bundle, tmp_path):
    files = read(bundle)
    signoffs = json.loads(files["signoffs.json"])
    signoffs[0]["decisions"][0]["comment"] = "Never reviewed."
    forged = resign({**files, "signoffs.json": json.dumps(signoffs).encode()})
    result = run_verifier(
        write(tmp_path / "edited.zip", forged), "--fingerprint", signing.fingerprint()
    )
    assert result.returncode == 1 and "differs from its event" in result.stdout


def test_a_wrongly_shaped_bundle_is_rejected_naming_the_part(bundle, tmp_path):
    """Signed as it is, so only the shape of its JSON is wrong: the verifier says where."""
    files = read(bundle)
    descriptor = json.loads(files["bundle.json"])
    checkpoint = json.loads(files["checkpoints.json"])[0]
    first_link = files["chain.jsonl"].split(b"\n", 1)[0]
    infinite_seq = f'"seq": {checkpoint["seq"]},'.encode()
    changes = {
        "bundle.json": {"bundle.json": b"[]"},
        "bundle.json ": {"bundle.json": json.dumps({**descriptor, "segment": [1]}).encode()},
        "chain.jsonl": {"chain.jsonl": first_link.replace(b'"seq":', b'"seq":1e400,"x":')},
        "events.jsonl": {"events.jsonl": b"[]\n" + files["events.jsonl"]},
        "checkpoints.json": {"checkpoints.json": b'{"seq": 1}'},
        "checkpoints.json ": {
            "checkpoints.json": files["checkpoints.json"].replace(infinite_seq, b'"seq": 1e400,')
        },
        "package.json or manifest.json": {"package.json": b'{"agent": "x"}'},
        "signoffs.json": {"signoffs.json": b"[" * 100_000 + b"]" * 100_000},
        "comments.json": {"comments.json": b'{"id": 1}'},
    }
    for part, change in changes.items():
        assert all(files[name] != content for name, content in change.items()), part
        forged = write(tmp_path / "malformed.zip", resign({**files, **change}))
        result = run_verifier(forged, "--fingerprint", signing.fingerprint())
        assert result.returncode == 1, (part, result.stderr)
        assert f"FAIL bundle well formed: {part.strip()} is malformed (" in result.stdout, (
            part,
            result.stdout + result.stderr,
        )
        assert result.stdout.strip().endswith("NOT VERIFIED") and not result.stderr, part


def test_the_bundle_signs_a_checkpoint_when_none_covers_it(approved):
    assert not Checkpoint.objects.exists()
    package_evidence(actor=Actor.system("tests"), package=approved)
    assert Checkpoint.objects.count() == 1
    package_evidence(actor=Actor.system("tests"), package=approved)
    assert Checkpoint.objects.count() == 1


def test_carried_over_signoffs_bring_their_decisions(workflow, agent, tmp_path):
    first = workflow.approve(agent)
    narrower = copy.deepcopy(first.manifest)
    narrower["scope"]["external_apis"] = []
    package = workflow.submit(agent, narrower)
    package.refresh_from_db()
    assert package.state == PackageState.APPROVED
    assert {s.state for s in package.signoffs.all()} == {"carried_over"}
    _, handle = package_evidence(actor=Actor.system("tests"), package=package)
    path = tmp_path / "carried.zip"
    path.write_bytes(handle.read())
    signoffs = json.loads(read(path)["signoffs.json"])
    assert all(s["carried_over_from"]["package_version"] == 1 for s in signoffs)
    assert run_verifier(path, "--fingerprint", signing.fingerprint()).returncode == 0


def test_evidence_endpoint(client, approved, staff):
    url = f"/api/v1/agents/{approved.agent.slug}/packages/2/evidence"
    client.force_login(UserFactory(username="po", groups=["product-owner"]))
    assert client.get(url).status_code in (403, 404)
    client.force_login(staff)
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    files = read(io.BytesIO(b"".join(response.streaming_content)))
    assert json.loads(files["package.json"])["package"]["version"] == 2
    assert (
        client.get(f"/api/v1/agents/{approved.agent.slug}/packages/9/evidence").status_code == 404
    )


@pytest.fixture
def discussed(approved, owner, reviewers, tmp_path):
    """The approved v2 with a conversation: on an entry, a reply, and an answer to a decision."""
    from approvals.comments import comment_create

    decision = Decision.objects.filter(signoff__package=approved).order_by("pk").first()
    first = comment_create(
        actor=Actor.for_user(reviewers["pam"][1]),
        package=approved,
        body="Why does <refund-desk> write? @owner",
        entry={"kind": "tool", "identifier": "refund-desk"},
    )
    comment_create(
        actor=Actor.for_user(owner), package=approved, body="Refunds, capped.", parent=first
    )
    # U+2028 is kept as typed, unescaped in the bundle's JSON Lines.
    comment_create(
        actor=Actor.for_user(owner), package=approved, body="Thanks.\u2028Noted.", decision=decision
    )
    name, handle = package_evidence(actor=Actor.system("tests"), package=approved)
    path = tmp_path / name
    path.write_bytes(handle.read())
    return path


def test_the_conversation_is_in_the_bundle_and_verifies(discussed):
    files = read(discussed)
    comments = json.loads(files["comments.json"])
    assert [c["body"] for c in comments] == [
        "Why does <refund-desk> write? @owner",
        "Refunds, capped.",
        "Thanks.\u2028Noted.",
    ]
    assert comments[0]["entry"] == {"kind": "tool", "identifier": "refund-desk"}
    assert comments[0]["mentions"] == ["owner"] and comments[0]["author"] == "pam2"
    assert comments[1]["parent"] == comments[0]["id"] and comments[2]["decision"]
    summary = files["summary.html"].decode()
    assert "Why does &lt;refund-desk&gt; write?" in summary and "<refund-desk>" not in summary
    result = run_verifier(discussed, "--fingerprint", signing.fingerprint())
    assert result.returncode == 0, result.stdout
    assert "ok   comments appear in the chain: 3 comments" in result.stdout


def test_an_edited_or_dropped_comment_is_rejected(discussed, tmp_path):
    files = read(discussed)
    comments = json.loads(files["comments.json"])
    edited = copy.deepcopy(comments)
    edited[1]["body"] = "Refunds, uncapped."
    forged = resign({**files, "comments.json": json.dumps(edited).encode()})
    result = run_verifier(
        write(tmp_path / "edited.zip", forged), "--fingerprint", signing.fingerprint()
    )
    assert result.returncode == 1
    assert f"comment {comments[1]['id']}: differs from its event" in result.stdout
    dropped = resign({**files, "comments.json": json.dumps(comments[:2]).encode()})
    result = run_verifier(
        write(tmp_path / "dropped.zip", dropped), "--fingerprint", signing.fingerprint()
    )
    assert result.returncode == 1
    assert f"comment {comments[2]['id']} left out" in result.stdout
