"""Whether beat runs every job of the schedule: late, off and missing jobs are told apart."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from audit.actors import Actor
from config.schedule import SCHEDULE
from outbox.schedule import JobStatus, schedule_states, schedule_sync

pytestmark = pytest.mark.django_db


@pytest.fixture
def synced():
    """The schedule as a deployment has it, every job having run a minute ago."""
    schedule_sync(actor=Actor.system("tests"), reset=True)
    PeriodicTask.objects.filter(name__in=SCHEDULE).update(
        last_run_at=timezone.now() - timedelta(minutes=1)
    )


def _states() -> dict[str, str]:
    return {job.name: job.state for job in schedule_states()}


def test_jobs_that_ran_when_owed_are_running(synced, capsys):
    assert set(_states().values()) == {JobStatus.RUNNING}
    call_command("schedule_status")
    assert capsys.readouterr().out.count("running ") == len(SCHEDULE)


def test_a_job_that_missed_its_runs_is_late_and_the_command_fails(synced, capsys):
    PeriodicTask.objects.filter(name="approvals-expire").update(
        last_run_at=timezone.now() - timedelta(hours=2)
    )
    assert _states()["approvals-expire"] == JobStatus.LATE
    assert {state for name, state in _states().items() if name != "approvals-expire"} == {
        JobStatus.RUNNING
    }
    with pytest.raises(CommandError, match="not running: approvals-expire$"):
        call_command("schedule_status")
    assert "late     approvals-expire" in capsys.readouterr().out


def test_a_job_within_its_grace_is_still_running(synced):
    PeriodicTask.objects.filter(name="approvals-expire").update(
        last_run_at=timezone.now() - timedelta(minutes=5)
    )
    assert _states()["approvals-expire"] == JobStatus.RUNNING


def test_a_job_that_never_ran_is_late_once_its_first_run_is_overdue(synced):
    PeriodicTask.objects.filter(name="drift-evaluate").update(last_run_at=None)
    assert _states()["drift-evaluate"] == JobStatus.RUNNING
    PeriodicTask.objects.filter(name="drift-evaluate").update(
        date_changed=timezone.now() - timedelta(hours=1)
    )
    assert _states()["drift-evaluate"] == JobStatus.LATE


def test_a_disabled_job_is_off_and_a_deleted_one_missing(synced):
    PeriodicTask.objects.filter(name="drift-evaluate").update(enabled=False)
    PeriodicTask.objects.filter(name="audit-checkpoint").delete()
    states = _states()
    assert (states["drift-evaluate"], states["audit-checkpoint"]) == (
        JobStatus.OFF,
        JobStatus.MISSING,
    )
    with pytest.raises(CommandError, match="not running: drift-evaluate, audit-checkpoint$"):
        call_command("schedule_status")


def test_staff_see_the_jobs_not_running_on_their_dashboard(synced, client, staff, owner):
    client.force_login(staff)
    assert b'data-testid="jobs-stopped"' not in client.get("/").content
    PeriodicTask.objects.filter(name="drift-evaluate").update(enabled=False)
    page = client.get("/").content.decode()
    assert 'data-testid="jobs-stopped"' in page
    assert "<code>drift-evaluate</code> (off, last run" in page
    client.force_login(owner)
    assert b'data-testid="jobs-stopped"' not in client.get("/").content
