"""The admin adds, changes and deletes only what a service behind it audits."""

from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from approvals.models import DriftFinding
from audit.models import AuditEvent
from outbox.admin import CRON_PARTS
from signoffs.services import checklist_current
from tests.factories import DriftFindingFactory
from tokens.models import ApiToken

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

# Added and changed in the admin through the services that audit them: teams, users and
# groups through agents.membership and identity.services, tokens through tokens.services.
# None of them is deleted there either: a token is revoked, a user deactivated.
EDITABLE = {"agents.team", get_user_model()._meta.label_lower, "auth.group", "tokens.apitoken"}


@pytest.fixture
def superuser(staff):
    staff.is_superuser = True
    staff.save()
    return staff


def test_every_other_model_is_read_only(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    registered = {m._meta.label_lower: m for m in apps.get_models() if admin.site.is_registered(m)}
    assert EDITABLE <= set(registered)
    # What the gate decides from is among them: a deleted sign-off or finding would change it.
    assert {"signoffs.signoff", "approvals.driftfinding", "agents.observation"} <= set(registered)
    for label, model in registered.items():
        if "site-packages" in model._meta.app_config.path:
            continue  # third-party models (the beat schedule staff edit) are theirs to say
        model_admin = admin.site.get_model_admin(model)
        assert not model_admin.has_delete_permission(request), label
        if label in EDITABLE:
            continue
        assert not model_admin.has_add_permission(request), label
        assert not model_admin.has_change_permission(request), label


def test_deleting_a_finding_is_refused(client, superuser, agent):
    finding = DriftFindingFactory(agent=agent)
    client.force_login(superuser)
    url = f"/admin/approvals/driftfinding/{finding.pk}/delete/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert DriftFinding.objects.filter(pk=finding.pk).exists()
    # Listed and shown all the same.
    assert client.get("/admin/approvals/driftfinding/").status_code == 200
    assert client.get(f"/admin/approvals/driftfinding/{finding.pk}/change/").status_code == 200


def test_a_token_is_revoked_in_the_admin_never_deleted(client, superuser, make_token, owner):
    token, _ = make_token(owner, "gate:check")
    client.force_login(superuser)
    url = f"/admin/tokens/apitoken/{token.pk}/delete/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"post": "yes"}).status_code == 403
    listing = "/admin/tokens/apitoken/"
    bulk = {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"}
    client.post(listing, bulk)
    assert ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).exists()
    actions = client.get(listing).context["action_form"].fields["action"].choices
    assert [name for name, _ in actions if name] == ["revoke"]

    client.post(listing, {"action": "revoke", "_selected_action": [token.pk]})
    token.refresh_from_db()
    assert token.revoked_at is not None
    event = AuditEvent.objects.order_by("-seq").first()
    assert (event.action, event.actor_label) == ("token.revoked", superuser.username)


# The admin's pages as the guides name them (docs/guide-staff.md, docs/operations.md).
NAMED_IN_THE_GUIDES = [
    "API tokens",
    "Teams",
    "Periodic tasks",
    "Checklists",
    "Access attempts",
    "Access logs",
    "Notifications",
    "Webhook deliveries",
]


def test_the_admin_names_its_pages_as_the_guides_do(client, superuser):
    guides = "".join(
        (ROOT / "docs" / name).read_text(encoding="utf-8")
        for name in ("guide-staff.md", "operations.md")
    )
    client.force_login(superuser)
    index = client.get("/admin/")
    names = {model["name"] for app in index.context["app_list"] for model in app["models"]}
    for name in NAMED_IN_THE_GUIDES:
        assert f"**{name}**" in guides, name
        assert name in names, f"the admin has no {name!r}: {sorted(names)}"


def test_a_checklist_names_the_fields_its_items_cover_in_words(client, superuser, checklists):
    checklist = checklist_current("compliance")
    client.force_login(superuser)
    response = client.get(f"/admin/signoffs/checklist/{checklist.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "CMP-5" in page
    # CMP-5's covers, in the checklist file's order; no list of bare paths is shown.
    assert "the rollback plan (rollback.plan) and the deployment model (deployment)" in page
    assert "&quot;rollback.plan&quot;" not in page


BEAT = "/admin/django_celery_beat"
# The inline of the tasks that use a schedule, which the crontab's page posts with it.
NO_TASKS = {"periodictask_set-TOTAL_FORMS": "0", "periodictask_set-INITIAL_FORMS": "0"}
EVERY_MINUTE = dict.fromkeys(CRON_PARTS, "*") | {"timezone": "UTC"} | NO_TASKS


@pytest.mark.parametrize("task", ["outbox.tasks.a\x00b", "t" * 3000])
def test_a_periodic_task_the_form_cannot_read_is_a_field_error(client, superuser, task):
    client.force_login(superuser)
    crontab = CrontabSchedule.objects.create()
    form = {"name": "fuzzed", "task": task, "crontab": crontab.pk, "enabled": "on"}
    form |= {"args": "[]", "kwargs": "{}", "headers": "{}"}
    response = client.post(f"{BEAT}/periodictask/add/", form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["task"]
    assert ("Null characters" in errors["task"][0]) == ("\x00" in task)
    assert not PeriodicTask.objects.filter(name="fuzzed").exists()
    response = client.post(f"{BEAT}/periodictask/add/", {**form, "task": "outbox.tasks.b"})
    assert response.status_code == 302
    assert PeriodicTask.objects.get(name="fuzzed").task == "outbox.tasks.b"


@pytest.mark.parametrize("part", CRON_PARTS)
def test_a_crontab_part_celery_cannot_read_is_a_field_error(client, superuser, part):
    client.force_login(superuser)
    before = CrontabSchedule.objects.count()
    response = client.post(f"{BEAT}/crontabschedule/add/", {**EVERY_MINUTE, part: "-1"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [part]
    assert "negative numbers not supported" in errors[part][0]
    assert CrontabSchedule.objects.count() == before


def test_a_time_zone_past_any_name_is_refused_wherever_it_is_sent(client, superuser):
    client.force_login(superuser)
    url = f"{BEAT}/crontabschedule/add/"
    before = CrontabSchedule.objects.count()
    response = client.post(url, {**EVERY_MINUTE, "timezone": "z" * 3000})
    assert list(response.context["adminform"].form.errors) == ["timezone"]
    assert CrontabSchedule.objects.count() == before
    # The form also reads the initial value the page sends back hidden; zoneinfo looked one
    # this long up as a file.
    response = client.post(url, {**EVERY_MINUTE, "minute": "5", "initial-timezone": "z" * 3000})
    assert response.status_code == 302
    assert CrontabSchedule.objects.filter(minute="5", timezone="UTC").count() == 1
