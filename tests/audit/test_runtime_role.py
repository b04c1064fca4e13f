"""The role web, worker and beat connect as adds to the audit trail and cannot change it.

Each test creates the role inside its transaction (roles are PostgreSQL's, and
CREATE ROLE and GRANT roll back with it), grants it with the command the
migrate job runs, and acts as it with SET ROLE. Roles are shared by the whole
server, so the name carries the test process's id.
"""

import io
import json
import os
from contextlib import contextmanager

import pytest
from celery.schedules import crontab
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.db import DatabaseError, connection, transaction
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from approvals.evidence import package_evidence
from approvals.gate import gate_check
from approvals.models import PackageState
from audit.actors import Actor
from audit.checkpoints import checkpoint_create
from audit.checks import check_runtime_role
from audit.export import JSONL, ExportFilter, export_stream
from audit.models import AuditEvent, Checkpoint
from audit.runtime_role import TRAIL_REFUSED, trail_tables
from audit.services import audit_record
from audit.verify import audit_verify
from config.celery import app

pytestmark = pytest.mark.django_db

ROLE = f"cs_runtime_{os.getpid()}"
SYSTEM = Actor.system("tests")


def execute(statement: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def create_role(name: str = ROLE) -> str:
    execute(f'CREATE ROLE "{name}" NOLOGIN')
    return name


@pytest.fixture
def runtime_role():
    role = create_role()
    call_command("grant_runtime_role", role, stdout=io.StringIO())
    return role


@contextmanager
def acting_as(role: str):
    execute(f'SET ROLE "{role}"')
    try:
        yield
    finally:
        execute("RESET ROLE")


def record(n: int = 1) -> None:
    with transaction.atomic():
        for i in range(n):
            audit_record(actor=SYSTEM, action="test.event", data={"i": i})


def test_the_runtime_role_runs_an_audited_workflow(runtime_role, workflow, agent):
    """Creating, submitting, deciding, the gate, a checkpoint, an export and a verification."""
    with acting_as(runtime_role):
        package = workflow.approve(agent)
        gate = gate_check(actor=SYSTEM, agent_slug=agent.slug, digest=package.digest)
        _, bundle = package_evidence(actor=SYSTEM, package=package)
        record(2)
        checkpoint = checkpoint_create(actor=SYSTEM)
        _, chunks = export_stream(ExportFilter(), JSONL)
        exported = b"".join(chunks)
        verified = audit_verify()
    assert package.state == PackageState.APPROVED
    assert gate.decision == "allow", gate.reasons
    assert bundle.read(2) == b"PK"
    head = AuditEvent.objects.order_by("-seq").first()
    assert (checkpoint.seq, checkpoint.head_hash) == (head.seq, head.hash)
    actions = {json.loads(line).get("action") for line in exported.splitlines()}
    assert {"package.submitted", "gate.checked", "test.event"} <= actions
    assert verified.ok and verified.checkpoints >= 1, verified


def test_beat_writes_its_schedule_as_the_runtime_role(runtime_role):
    """Celery beat's database scheduler adds its default entry at start and records each run.

    These are the writes DatabaseScheduler makes through its entries: at start
    (`install_default_entries`), and for a run (`reserve`, then `sync`). The
    scheduler itself is not started: its `sync` closes a connection it finds in a
    transaction, as a test's is.
    """
    call_command("sync_schedule", stdout=io.StringIO())
    task = PeriodicTask.objects.get(name="drift-evaluate")
    with acting_as(runtime_role):
        ModelEntry.from_entry(
            "celery.backend_cleanup",
            app=app,
            task="celery.backend_cleanup",
            schedule=crontab("0", "4", "*"),
        )
        next(ModelEntry(task, app=app)).save()
    task.refresh_from_db()
    assert task.total_run_count == 1 and task.last_run_at is not None
    assert PeriodicTask.objects.filter(name="celery.backend_cleanup").exists()


TAMPERING = [
    "UPDATE {table} SET id = id",
    "DELETE FROM {table}",
    "TRUNCATE {table}",
    "ALTER TABLE {table} DISABLE TRIGGER USER",
    "ALTER TABLE {table} DISABLE TRIGGER ALL",
    "ALTER TABLE {table} OWNER TO CURRENT_USER",
    "DROP TABLE {table}",
]


@pytest.mark.parametrize("table", trail_tables())
@pytest.mark.parametrize("statement", TAMPERING)
def test_the_runtime_role_cannot_change_the_trail(runtime_role, table, statement):
    record(3)
    checkpoint_create(actor=SYSTEM)
    with acting_as(runtime_role):
        with pytest.raises(DatabaseError, match="permission denied|must be owner"):
            with transaction.atomic():
                execute(statement.format(table=table))
    assert AuditEvent.objects.count() == 3 and Checkpoint.objects.count() == 1


def test_the_runtime_role_cannot_skip_triggers_for_the_session(runtime_role):
    """session_replication_role=replica would silence every ordinary trigger."""
    with acting_as(runtime_role):
        with pytest.raises(DatabaseError, match="permission denied"):
            with transaction.atomic():
                execute("SET session_replication_role = replica")


def privileges(role: str, table: str) -> set[str]:
    names = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]
    rows = execute(
        "SELECT p FROM unnest(%s::text[]) AS p WHERE has_table_privilege(%s, %s, p)",
        [names, role, table],
    )
    return {name for (name,) in rows}


def test_the_runtime_role_holds_what_the_app_needs_and_owns_nothing(runtime_role):
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    assert set(trail_tables()) <= set(tables)
    for table in tables:
        expected = (
            {"SELECT", "INSERT"}
            if table in trail_tables()
            else {
                "SELECT",
                "INSERT",
                "UPDATE",
                "DELETE",
            }
        )
        assert privileges(runtime_role, table) == expected, table
    assert execute(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE r.rolname = %s",
        [runtime_role],
    ) == [(0,)]
    assert execute(
        "SELECT has_function_privilege(%s, p.oid, 'EXECUTE') FROM pg_proc p "
        "WHERE p.proname = 'audit_append'",
        [runtime_role],
    ) == [(True,)]


def test_granting_again_takes_back_what_was_added_by_hand(runtime_role):
    for table in trail_tables():
        execute(f'GRANT ALL ON TABLE {table} TO "{runtime_role}"')
    call_command("grant_runtime_role", runtime_role, stdout=io.StringIO())
    for table in trail_tables():
        assert privileges(runtime_role, table) == {"SELECT", "INSERT"}, table


def test_the_grant_refuses_a_superuser_and_a_missing_role():
    ((superuser,),) = execute("SELECT current_user")
    with pytest.raises(CommandError, match="is, or may become, a superuser"):
        call_command("grant_runtime_role", superuser, stdout=io.StringIO())
    with pytest.raises(CommandError, match="does not exist"):
        call_command("grant_runtime_role", f"cs_missing_{os.getpid()}", stdout=io.StringIO())


def test_the_grant_refuses_a_role_that_may_act_as_the_tables_owner():
    role = create_role()
    execute(f'ALTER TABLE audit_auditevent OWNER TO "{role}"')
    with pytest.raises(CommandError, match="owns, or may act as the owner of, audit_auditevent"):
        call_command("grant_runtime_role", role, stdout=io.StringIO())


def test_the_deploy_check_refuses_the_superuser_and_passes_the_runtime_role(runtime_role):
    errors = check_runtime_role(None, databases=["default"])
    assert [error.id for error in errors] == ["audit.E002"]
    assert "superuser" in errors[0].msg
    with pytest.raises(SystemCheckError, match="audit.E002"):
        call_command("check", "--deploy", "--database", "default", "--tag", "database")
    with acting_as(runtime_role):
        assert check_runtime_role(None, databases=["default"]) == []
        call_command("check", "--deploy", "--database", "default", "--tag", "database")


def test_the_deploy_check_names_each_privilege_that_would_change_the_trail(runtime_role):
    table = trail_tables()[0]
    execute(f'GRANT UPDATE, TRUNCATE ON TABLE {table} TO "{runtime_role}"')
    with acting_as(runtime_role):
        (error,) = check_runtime_role(None, databases=["default"])
    assert error.id == "audit.E002"
    assert f"holds UPDATE, TRUNCATE on {table}" in error.msg
    assert set(TRAIL_REFUSED) >= {"UPDATE", "DELETE", "TRUNCATE"}


def test_the_deploy_check_refuses_a_role_that_may_act_as_the_owner(runtime_role):
    member = create_role(f"cs_owner_{os.getpid()}")
    execute(f'ALTER TABLE audit_checkpoint OWNER TO "{member}"')
    execute(f'GRANT "{member}" TO "{runtime_role}"')
    with acting_as(runtime_role):
        (error,) = check_runtime_role(None, databases=["default"])
    assert "owns, or may act as the owner of, audit_checkpoint" in error.msg


def test_the_deploy_check_needs_a_database_named():
    """Without --database, as README's `check --deploy --fail-level WARNING`, it is not run."""
    assert check_runtime_role(None, databases=None) == []
    assert "audit.E002" not in [
        error.id for error in run_checks(include_deployment_checks=True, databases=None)
    ]


def test_the_trail_is_the_tables_the_append_only_triggers_guard():
    """TRAIL_MODELS, which the grants follow, names the tables migrations 0002 and 0003 guard."""
    rows = execute(
        "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger "
        "WHERE tgfoid = 'audit_event_append_only'::regproc"
    )
    assert sorted(table for (table,) in rows) == sorted(trail_tables())
