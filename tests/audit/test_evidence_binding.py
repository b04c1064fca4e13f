"""The offline verifier holds what a bundle says of a package to the audit events it carries.

Most tests edit rows the application's database role may change (packages,
sign-offs, decisions: none of them append-only), as an insider could, build the
bundle with the real builder and signing key, and expect tools/verify-evidence to
refuse it: the chain is untouched, so only the events the bundle carries give the
edit away. The others are bundles of packages as the services leave them, which
must verify.
"""

import copy
import hashlib
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from approvals.evidence import package_evidence
from approvals.manifest.canonical import canonical_json
from approvals.models import ApprovalPackage, PackageState
from approvals.services import agent_suspend, package_expire, package_update_draft
from audit import signing
from audit.actors import Actor
from audit.verify import audit_verify
from signoffs.models import Decision, SignOff, SignOffState, Verdict
from tests.audit.test_evidence import read, run_verifier
from tests.factories import UserFactory, manifest_for

pytestmark = pytest.mark.django_db


def bundle_of(package, tmp_path, name="bundle.zip"):
    _, handle = package_evidence(actor=Actor.system("tests"), package=package)
    path = tmp_path / name
    path.write_bytes(handle.read())
    return path


def verdict(package, tmp_path, name="bundle.zip"):
    """Return the verifier's lines for the package's bundle, and its exit status."""
    result = run_verifier(
        bundle_of(package, tmp_path, name), "--fingerprint", signing.fingerprint()
    )
    return result.stdout, result.returncode


def event_of(path, action, target_id):
    lines = read(path)["events.jsonl"].decode().split("\n")
    events = [json.loads(line) for line in lines if line.strip()]
    return next(e for e in events if e["action"] == action and e["target_id"] == str(target_id))


def test_a_decision_event_the_bundle_leaves_out_is_refused(workflow, agent, tmp_path):
    """Security's rejection row is deleted: its `signoff.decided` event is still in the bundle."""
    package = workflow.submit(agent)
    rejection = workflow.decide(package, "security", verdict=Verdict.REJECT, comment="Unbounded.")
    Decision.objects.filter(pk=rejection.pk).delete()
    assert audit_verify().ok, "the audit trail itself is untouched"

    path = bundle_of(ApprovalPackage.objects.get(pk=package.pk), tmp_path)
    seq = event_of(path, "signoff.decided", rejection.pk)["seq"]
    result = run_verifier(path, "--fingerprint", signing.fingerprint())
    assert result.returncode == 1
    assert (
        f"FAIL decisions appear in the chain: event {seq}: decision {rejection.pk} left out"
        in result.stdout
    )


def test_a_decision_moved_from_the_version_before_is_refused(workflow, agent, tmp_path):
    """v1's compliance decision is re-pointed at v2's re-opened compliance sign-off.

    Its event is in v2's bundle, since the other sign-offs carry over from v1; it
    says version 1.
    """
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    second = workflow.submit(agent, doc)
    reopened = second.signoffs.get(dimension="compliance")
    assert reopened.state == SignOffState.PENDING
    old = Decision.objects.get(signoff__package=first, signoff__dimension="compliance")
    Decision.objects.filter(pk=old.pk).update(signoff=reopened)

    path = bundle_of(ApprovalPackage.objects.get(pk=second.pk), tmp_path)
    seq = event_of(path, "signoff.decided", old.pk)["seq"]
    result = run_verifier(path, "--fingerprint", signing.fingerprint())
    assert result.returncode == 1
    assert f"decision {old.pk}: differs from its event {seq} (version)" in result.stdout


def test_how_and_for_whom_a_reviewer_decided_are_held_to_the_event(workflow, agent, tmp_path):
    """The summary shows both from the decision row; the event recorded them."""
    package = workflow.approve(agent)
    decision = Decision.objects.get(signoff__package=package, signoff__dimension="iam")
    Decision.objects.filter(pk=decision.pk).update(
        auth_method="oidc", auth_acr="phr", auth_amr=["hwk", "mfa"]
    )
    stdout, status = verdict(package, tmp_path, "authentication.zip")
    assert status == 1
    assert f"decision {decision.pk}: differs from its event" in stdout
    assert "(authentication)" in stdout

    Decision.objects.filter(pk=decision.pk).update(
        auth_method=decision.auth_method, auth_acr=decision.auth_acr, auth_amr=decision.auth_amr
    )
    Decision.objects.filter(pk=decision.pk).update(on_behalf_of=UserFactory(username="absent"))
    stdout, status = verdict(package, tmp_path, "on-behalf-of.zip")
    assert status == 1
    assert f"decision {decision.pk}: differs from its event" in stdout
    assert "(on_behalf_of)" in stdout


def test_a_manifest_changed_after_its_review_is_refused(workflow, agent, tmp_path):
    """After approval the stored manifest gains a tool, with or without a new digest."""
    package = workflow.approve(agent)
    reviewed = package.digest
    manifest = copy.deepcopy(package.manifest)
    manifest["scope"]["tools"].append(
        {**manifest["scope"]["tools"][0], "id": "wire-transfer", "access": "admin"}
    )
    digest = hashlib.sha256(canonical_json(manifest).encode()).hexdigest()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE approvals_approvalpackage SET manifest = %s::jsonb WHERE id = %s",
            [json.dumps(manifest), package.pk],
        )
    stdout, status = verdict(package, tmp_path, "manifest.zip")
    assert status == 1
    assert f"manifest.json digests to {digest}, package.json says {reviewed}" in stdout

    ApprovalPackage.objects.filter(pk=package.pk).update(digest=digest)
    path = bundle_of(package, tmp_path, "manifest-and-digest.zip")
    assert "wire-transfer" in read(path)["manifest.json"].decode()
    submitted = event_of(path, "package.submitted", package.pk)
    result = run_verifier(path, "--fingerprint", signing.fingerprint())
    assert result.returncode == 1
    assert (
        f"digest {digest}, but the version's last event recording it"
        f" ({submitted['seq']}, package.submitted) says {reviewed}"
    ) in result.stdout


def test_a_state_no_event_set_is_refused(workflow, agent, tmp_path):
    """A rejected package is set to approved in the database."""
    package = workflow.submit(agent)
    workflow.decide(package, "security", verdict=Verdict.REJECT, comment="Unbounded.")
    SignOff.objects.filter(package=package).update(state=SignOffState.APPROVED)
    ApprovalPackage.objects.filter(pk=package.pk).update(
        state=PackageState.APPROVED, expires_at=timezone.now() + timedelta(days=30)
    )

    path = bundle_of(package, tmp_path)
    assert "State <b>Approved</b>" in read(path)["summary.html"].decode()
    rejected = event_of(path, "package.rejected", package.pk)
    result = run_verifier(path, "--fingerprint", signing.fingerprint())
    assert result.returncode == 1
    assert (
        "state approved, but the version's last event recording it"
        f" ({rejected['seq']}, package.rejected) says rejected"
    ) in result.stdout


def test_every_state_the_services_leave_verifies(workflow, owner, agent, tmp_path):
    """Each state, set by the services, later ones included, is the one its last event set."""
    system = Actor.system("tests")
    v1 = workflow.create(agent)
    package_update_draft(
        actor=Actor.for_user(owner), package=v1, manifest=manifest_for(agent, justification="v1")
    )
    v2 = workflow.approve(agent, manifest_for(agent, justification="v2"))
    v3 = workflow.approve(agent, manifest_for(agent, justification="v3"))
    ApprovalPackage.objects.filter(pk=v3.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    assert package_expire(actor=system, package=v3)
    v4 = workflow.approve(agent, manifest_for(agent, justification="v4"))
    rollback = manifest_for(agent, justification="v4")
    rollback["rollback"]["plan"] = "Redeploy v4."
    v5 = workflow.submit(agent, rollback)  # compliance re-opens, the rest carries over
    # Suspending revokes v4, and v5's review, which carries v4's sign-offs over.
    agent_suspend(actor=system, agent=agent, reason="Incident.")
    rollback["rollback"]["plan"] = "Redeploy v3."
    v6 = workflow.submit(agent, rollback)
    expected = {
        v1.pk: "draft",
        v2.pk: "superseded",
        v3.pk: "expired",
        v4.pk: "revoked",
        v5.pk: "revoked",
        v6.pk: "in_review",
    }
    for package in ApprovalPackage.objects.filter(pk__in=expected):
        assert package.state == expected[package.pk]
        stdout, status = verdict(package, tmp_path, f"v{package.version}.zip")
        assert status == 0, stdout
        assert f"version {package.version}, {package.state}, digest {package.digest}" in stdout


def test_a_version_carrying_sign_offs_from_two_versions_verifies(workflow, agent, tmp_path):
    """v3 carries compliance from v2 and the rest from v1: v1's compliance decision is not its."""
    first = workflow.approve(agent)
    doc = copy.deepcopy(first.manifest)
    doc["rollback"]["plan"] = "Redeploy v1."
    second = workflow.submit(agent, doc)
    workflow.decide(second, "compliance")
    doc["scope"]["external_apis"] = []
    third = workflow.submit(agent, doc)
    assert third.state == PackageState.APPROVED
    carried = {s.dimension: s.carried_over_from.package.version for s in third.signoffs.all()}
    assert carried == {"iam": 1, "pam": 1, "security": 1, "compliance": 2}

    stdout, status = verdict(third, tmp_path)
    assert status == 0, stdout
