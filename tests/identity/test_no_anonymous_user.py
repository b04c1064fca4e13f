"""Only people are users: django-guardian's stand-in for visitors is neither made nor kept."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from django.utils import timezone

from tests.web.dom import parse

BEFORE = [("identity", "0001_initial")]
STAND_IN = "AnonymousUser"
UNUSABLE = UNUSABLE_PASSWORD_PREFIX + "x"


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return executor


@contextmanager
def before_the_removal():
    """Yield the models as they stand with every migration but identity's removal applied,
    and the stand-in guardian made; apply the removal on leaving."""
    executor = migrate(BEFORE)
    try:
        others = [node for node in executor.loader.graph.leaf_nodes() if node[0] != "identity"]
        apps = executor.loader.project_state([*others, *BEFORE]).apps
        stand_in = apps.get_model("auth", "User").objects.create(
            username=STAND_IN, password=UNUSABLE
        )
        yield apps, stand_in
    finally:
        migrate(None)


@pytest.mark.django_db
def test_a_migrated_database_holds_no_stand_in_and_the_staff_list_only_people(client, staff):
    assert not get_user_model().objects.filter(username=STAND_IN).exists()

    client.force_login(staff)
    listed = parse(client.get(reverse("staff-users")).content).find("main").text()

    assert "staff" in listed
    assert STAND_IN not in listed


@pytest.mark.django_db(transaction=True)
def test_the_migration_removes_the_stand_in_and_keeps_people():
    with before_the_removal() as (apps, stand_in):
        stand_in.groups.add(apps.get_model("auth", "Group").objects.get_or_create(name="iam")[0])
        apps.get_model("agents", "Team").objects.create(slug="care", name="Care").members.add(
            stand_in
        )
        apps.get_model("auth", "User").objects.create(username="olivia", password=UNUSABLE)
    names = set(get_user_model().objects.values_list("username", flat=True))
    assert STAND_IN not in names
    assert "olivia" in names


@pytest.mark.django_db(transaction=True)
def test_a_stand_in_the_workflow_names_is_deactivated_instead():
    with before_the_removal() as (apps, stand_in):
        olivia = apps.get_model("auth", "User").objects.create(username="olivia", password=UNUSABLE)
        now = timezone.now()
        apps.get_model("signoffs", "Absence").objects.create(
            reviewer=olivia,
            dimension="iam",
            delegate=stand_in,
            starts_at=now,
            ends_at=now + timedelta(days=1),
        )
    assert get_user_model().objects.get(username=STAND_IN).is_active is False
