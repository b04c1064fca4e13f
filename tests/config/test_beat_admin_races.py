"""Two staff adding one periodic task, or one solar schedule, in the admin at once: both
forms pass their unique check before either commits; the second comes back with the form's
error, not a server error, and only the first is saved."""

import pytest
from django.test import Client
from django_celery_beat.models import CrontabSchedule, PeriodicTask, SolarSchedule

from tests.concurrency import raced
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEAT = "/admin/django_celery_beat"
NO_TASKS = {"periodictask_set-TOTAL_FORMS": "0", "periodictask_set-INITIAL_FORMS": "0"}


def _admins() -> list[Client]:
    clients = []
    for username in ("admin-1", "admin-2"):
        clients.append(Client())
        clients[-1].force_login(UserFactory(username=username, is_staff=True, is_superuser=True))
    return clients


def _two_posts(url: str, data: dict) -> list:
    """Post `data` to `url` twice, the second while the first's transaction is open."""
    first, second = _admins()
    responses = [None, None]

    def post(index, client):
        def run():
            responses[index] = client.post(url, data)

        return run

    errors = raced(post(0, first), post(1, second))
    assert not errors, errors
    return responses


def test_two_periodic_tasks_of_one_name():
    crontab = CrontabSchedule.objects.create()
    data = {"name": "nightly", "task": "outbox.tasks.a", "crontab": crontab.pk, "enabled": "on"}
    data |= {"args": "[]", "kwargs": "{}", "headers": "{}"}

    added, refused = _two_posts(f"{BEAT}/periodictask/add/", data)

    assert (added.status_code, refused.status_code) == (302, 200)
    assert refused.context["adminform"].form.errors == {
        "name": ["Periodic task with this Name already exists."]
    }
    assert PeriodicTask.objects.filter(name="nightly").count() == 1


def test_two_solar_schedules_of_one_event_and_place():
    data = {"event": "sunrise", "latitude": "40.7128", "longitude": "74.006"} | NO_TASKS

    added, refused = _two_posts(f"{BEAT}/solarschedule/add/", data)

    assert (added.status_code, refused.status_code) == (302, 200)
    assert list(refused.context["adminform"].form.errors) == ["__all__"]
    assert SolarSchedule.objects.count() == 1
