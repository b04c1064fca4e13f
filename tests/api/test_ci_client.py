"""tools/countersign-gate, run as CI runs it, against the real API on a live server."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from agents.vocabulary import RiskTier
from approvals.manifest import change_words
from approvals.models import ApprovalPackage, PackageState
from tests.factories import manifest_for
from tokens.models import Scope

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "countersign-gate"


def run_gate(live_server, secret, *args) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "COUNTERSIGN_URL": live_server.url,
        "COUNTERSIGN_TOKEN": secret,
    }
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write(path: Path, doc: dict, as_yaml: bool = True) -> str:
    doc = json.loads(json.dumps(doc))
    path.write_text(yaml.safe_dump(doc, sort_keys=False) if as_yaml else json.dumps(doc))
    return str(path)


@pytest.mark.django_db(transaction=True)
def test_ci_gate_allows_the_approved_scope_and_denies_an_expansion(
    live_server, transactional_db, workflow, agent, make_token, owner, tmp_path
):
    package = workflow.approve(agent)
    _, secret = make_token(owner, Scope.GATE_CHECK, Scope.PACKAGES_WRITE)

    approved_yaml = write(tmp_path / "agent.yaml", manifest_for(agent))
    allowed = run_gate(live_server, secret, "check", "--manifest", approved_yaml)
    assert allowed.returncode == 0, allowed.stderr
    assert f"ALLOW: agent {agent.slug} package v{package.version}" in allowed.stdout

    approved_json = write(tmp_path / "agent.json", manifest_for(agent), as_yaml=False)
    assert run_gate(live_server, secret, "check", "--manifest", approved_json).returncode == 0
    by_digest = run_gate(
        live_server, secret, "check", "--agent", agent.slug, "--digest", package.digest
    )
    assert by_digest.returncode == 0, by_digest.stderr

    widened = manifest_for(agent)
    widened["scope"]["tools"].append({"id": "shell", "access": "execute"})
    denied = run_gate(
        live_server, secret, "check", "--manifest", write(tmp_path / "w.yaml", widened)
    )
    assert denied.returncode == 1, denied.stderr
    assert "DENY" in denied.stderr and "scope_mismatch" in denied.stderr
    assert "shell" in denied.stderr

    submitted = run_gate(live_server, secret, "submit", "--manifest", str(tmp_path / "w.yaml"))
    assert submitted.returncode == 0, submitted.stderr
    assert "created package v2" in submitted.stdout
    # The state as the API words it (PackageState's label), never its stored value.
    assert "submitted v2 for review; state: In review" in submitted.stdout
    latest = ApprovalPackage.objects.get(agent=agent, version=2)
    assert latest.state == PackageState.IN_REVIEW
    # The risk tier in words too (RiskTier's label).
    assert f", risk tier {RiskTier(latest.risk_tier).label}\n" in submitted.stdout
    # Each change as the API words it, one a line, its class marked; no field names.
    (added,) = latest.diff["expansions"]
    assert (
        f"  changes against v{package.version}, the last approved version:\n"
        f"    {change_words(added)} (expansion)\n"
    ) in submitted.stdout
    assert "shell" in change_words(added) and "is_expansion" not in submitted.stdout
    assert (
        run_gate(live_server, secret, "check", "--manifest", str(tmp_path / "w.yaml")).returncode
        == 1
    )


@pytest.mark.django_db(transaction=True)
def test_ci_gate_exits_2_on_a_refused_token(live_server, transactional_db, agent, tmp_path):
    manifest = write(tmp_path / "agent.yaml", manifest_for(agent))
    result = run_gate(live_server, "cs_00000000_not-a-token", "check", "--manifest", manifest)
    assert result.returncode == 2
    assert "401" in result.stderr and "invalid_token" in result.stderr


@pytest.mark.django_db(transaction=True)
def test_ci_gate_checks_the_file_it_submitted_without_the_server_parsing_it_again(
    live_server, transactional_db, workflow, agent, make_token, owner, tmp_path, monkeypatch
):
    """Submit a YAML file, have it approved, check the same file: the approved text is
    known by its source digest; an edited copy of it is read in full."""
    from approvals import gate, services

    _, secret = make_token(owner, Scope.GATE_CHECK, Scope.PACKAGES_WRITE)
    path = tmp_path / "agent.yaml"
    path.write_text(
        "# The support assistant's runtime scope.\r\n"
        + yaml.safe_dump(json.loads(json.dumps(manifest_for(agent))), sort_keys=False).replace(
            "\n", "\r\n"
        )
    )
    submitted = run_gate(live_server, secret, "submit", "--manifest", str(path))
    assert submitted.returncode == 0, submitted.stderr
    package = ApprovalPackage.objects.get(agent=agent, version=1)
    assert package.source_digest
    approved = workflow.approve_submitted(package)
    assert approved.state == PackageState.APPROVED

    parsed = []
    monkeypatch.setattr(
        gate, "parse_manifest", lambda *a: parsed.append(a) or services.parse_manifest(*a)
    )
    allowed = run_gate(live_server, secret, "check", "--manifest", str(path))
    assert allowed.returncode == 0, allowed.stderr
    assert f"package v{approved.version}" in allowed.stdout
    assert parsed == []
    path.write_text(path.read_text() + "# edited\n")
    assert run_gate(live_server, secret, "check", "--manifest", str(path)).returncode == 0
    assert len(parsed) == 1
