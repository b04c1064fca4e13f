"""The admin adds, changes and deletes only what a service behind it audits."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from approvals.models import DriftFinding
from tests.factories import DriftFindingFactory

pytestmark = pytest.mark.django_db

# Changed in the admin through the services that audit them: teams, users and groups
# through agents.membership, tokens through tokens.services.
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
        if label in EDITABLE or "site-packages" in model._meta.app_config.path:
            continue  # third-party models (the beat schedule staff edit) are theirs to say
        model_admin = admin.site.get_model_admin(model)
        assert not model_admin.has_add_permission(request), label
        assert not model_admin.has_change_permission(request), label
        assert not model_admin.has_delete_permission(request), label


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
