"""The evidence bundle reads a package's records and the bounds of its events in one snapshot.

A decision made while a bundle is being built must be in both its signoffs.json and
its events.jsonl, or in neither: the verifier holds the two to each other both ways.
Real concurrent transactions on PostgreSQL.
"""

import threading

import pytest
from django.db import connection, transaction

from approvals.evidence import package_evidence
from audit import signing
from audit.actors import Actor
from audit.models import AuditEvent
from tests.audit.test_evidence import read, run_verifier
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_decision_made_while_the_bundle_is_built_is_in_both_or_neither(workflow, agent, tmp_path):
    package = workflow.submit(agent)
    locked, errors = threading.Event(), []

    def decide_while_the_builder_waits():
        """Hold the audit table until the builder waits for it, then decide and commit."""
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("LOCK TABLE audit_auditevent IN ACCESS EXCLUSIVE MODE")
                locked.set()
                wait_for(builder_waits, message="the builder to wait for the audit table")
                workflow.decide(package, "iam")
        except Exception as error:  # noqa: BLE001 - reported to the test below
            errors.append(error)
            locked.set()
        finally:
            connection.close()

    def builder_waits():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks"
                " WHERE relation = 'audit_auditevent'::regclass AND NOT granted"
            )
            return cursor.fetchone()[0]

    decider = threading.Thread(target=decide_while_the_builder_waits)
    decider.start()
    locked.wait(timeout=30)
    # The builder reads the package and its sign-offs, then waits for the audit table
    # while the decision commits.
    _, handle = package_evidence(actor=Actor.system("tests"), package=package)
    decider.join(timeout=60)
    assert not errors, errors
    assert AuditEvent.objects.filter(action="signoff.decided", package_version=1).count() == 1

    path = tmp_path / "bundle.zip"
    path.write_bytes(handle.read())
    assert b"signoff.decided" not in read(path)["events.jsonl"], "the bundle's snapshot is older"
    result = run_verifier(path, "--fingerprint", signing.fingerprint())
    assert result.returncode == 0, result.stdout
