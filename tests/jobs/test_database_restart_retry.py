"""A job whose database connection drops mid-run (a restart, a failover) is retried.

The job runs on a real worker. While the test holds the audit chain's lock,
the job waits for it on its own connection; the test terminates exactly that
backend (pg_terminate_backend on the one session its lock blocks, in this
test's own database) and lets the lock go. The retry runs on a new connection.
"""

from datetime import timedelta

import psycopg
import pytest
from django.conf import settings
from django.utils import timezone

from approvals import tasks
from approvals.models import ApprovalPackage
from audit import tasks as audit_tasks
from audit.chain import CHAIN_LOCK_KEY
from audit.models import Checkpoint
from tests.jobs.conftest import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _dsn() -> str:
    db = settings.DATABASES["default"]
    password = f" password={db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"host={db.get('HOST') or '127.0.0.1'} port={db.get('PORT') or 5432} "
        f"user={db.get('USER') or 'postgres'} dbname={db['NAME']}{password}"
    )


def cut_off_while_waiting_for_the_chain(send) -> None:
    """Hold the chain's lock, send the job, terminate the backend it blocks, let go."""
    with psycopg.connect(_dsn()) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
        (holder_pid,) = holder.execute("SELECT pg_backend_pid()").fetchone()
        send()
        with psycopg.connect(_dsn(), autocommit=True) as other:

            def blocked() -> list[int]:
                rows = other.execute(
                    "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                    [holder_pid],
                ).fetchall()
                return [pid for (pid,) in rows]

            [job] = wait_for(blocked, message="the job to wait for the chain's lock")
            other.execute("SELECT pg_terminate_backend(%s)", [job])
        holder.rollback()


def test_a_daily_job_cut_off_by_a_database_restart_is_retried(workflow, agent, celery_worker):
    package = workflow.approve(agent)
    ApprovalPackage.objects.filter(pk=package.pk).update(
        expires_at=timezone.now() + timedelta(days=3)
    )
    worker = celery_worker()
    cut_off_while_waiting_for_the_chain(tasks.recertification_open.delay)
    wait_for(
        lambda: ApprovalPackage.objects.filter(agent=agent, is_recertification=True).exists(),
        timeout=60,
        message="the retried job to open the re-certification",
    )
    assert "terminating connection due to administrator command" in worker.output()
    assert "retry: Retry in" in worker.output()


def test_the_checkpoint_job_cut_off_by_a_database_restart_is_retried(
    workflow, agent, celery_worker
):
    workflow.approve(agent)
    celery_worker()
    cut_off_while_waiting_for_the_chain(audit_tasks.audit_checkpoint.delay)
    wait_for(Checkpoint.objects.exists, timeout=60, message="the retried checkpoint")
