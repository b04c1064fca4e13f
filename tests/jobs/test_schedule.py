"""The beat schedule: written in code, copied into django-celery-beat, editable by staff."""

import pytest
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from audit.actors import Actor
from audit.models import AuditEvent
from config.celery import TRANSIENT_ERRORS, app
from config.schedule import SCHEDULE
from outbox.schedule import schedule_sync

pytestmark = pytest.mark.django_db


def test_every_scheduled_task_is_registered():
    app.loader.import_default_modules()
    for entry in SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]


def test_every_scheduled_task_retries_what_a_database_restart_or_the_network_raise():
    app.loader.import_default_modules()
    for name, entry in SCHEDULE.items():
        task = app.tasks[entry["task"]]
        assert set(TRANSIENT_ERRORS) <= set(task.autoretry_for), name
        assert task.max_retries > 0, name


def test_sync_creates_missing_entries_and_keeps_staff_edits():
    call_command("sync_schedule", stdout=open("/dev/null", "w"))
    names = set(PeriodicTask.objects.values_list("name", flat=True))
    assert set(SCHEDULE) <= names
    drift = PeriodicTask.objects.get(name="drift-evaluate")
    assert drift.task == "approvals.tasks.drift_evaluate"
    assert drift.crontab.minute == "*/5" and drift.enabled

    drift.enabled = False
    drift.save()
    call_command("sync_schedule", stdout=open("/dev/null", "w"))
    assert not PeriodicTask.objects.get(name="drift-evaluate").enabled
    call_command("sync_schedule", "--reset", stdout=open("/dev/null", "w"))
    assert PeriodicTask.objects.get(name="drift-evaluate").enabled
    assert PeriodicTask.objects.filter(name__in=SCHEDULE).count() == len(SCHEDULE)


def test_a_sync_that_changes_the_schedule_is_audited_and_one_that_changes_nothing_is_not(
    audit_since,
):
    actor = Actor.system("manage.py sync_schedule")
    since = audit_since()
    assert set(schedule_sync(actor=actor, reset=False).values()) == {"created"}
    (event,) = since()
    assert (event.action, event.actor_label) == ("schedule.synced", actor.label)
    assert event.data == {"created": sorted(SCHEDULE), "reset": [], "repointed": []}

    since = audit_since()
    assert set(schedule_sync(actor=actor, reset=False).values()) == {"kept"}
    assert schedule_sync(actor=actor, reset=True)["drift-evaluate"] == "kept"
    assert since() == []

    PeriodicTask.objects.filter(name="drift-evaluate").update(enabled=False)
    PeriodicTask.objects.filter(name="notifications-sweep").update(task="outbox.tasks.gone")
    since = audit_since()
    outcome = schedule_sync(actor=actor, reset=False)
    assert (outcome["drift-evaluate"], outcome["notifications-sweep"]) == ("kept", "repointed")
    outcome = schedule_sync(actor=actor, reset=True)
    assert outcome["drift-evaluate"] == "reset"
    assert [e.data for e in since()] == [
        {"created": [], "reset": [], "repointed": ["notifications-sweep"]},
        {"created": [], "reset": ["drift-evaluate"], "repointed": []},
    ]
    assert AuditEvent.objects.filter(action="schedule.synced").count() == 3


def test_staff_see_the_schedule_in_the_admin(client, django_user_model):
    call_command("sync_schedule", stdout=open("/dev/null", "w"))
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-1-x")
    client.force_login(admin)
    response = client.get("/admin/django_celery_beat/periodictask/")
    assert response.status_code == 200
    assert b"drift-evaluate" in response.content
    task = PeriodicTask.objects.get(name="reviews-escalate")
    response = client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    assert response.status_code == 200 and b"approvals.tasks.reviews_escalate" in response.content


def test_sync_points_a_kept_entry_at_the_task_the_code_names():
    call_command("sync_schedule", stdout=open("/dev/null", "w"))
    PeriodicTask.objects.filter(name="notifications-sweep").update(
        task="approvals.tasks.notifications_sweep", enabled=False
    )
    call_command("sync_schedule", stdout=open("/dev/null", "w"))
    sweep = PeriodicTask.objects.get(name="notifications-sweep")
    assert (
        sweep.task == SCHEDULE["notifications-sweep"]["task"] == "outbox.tasks.notifications_sweep"
    )
    assert not sweep.enabled  # the staff's edit is kept
