"""Two staff adding one group in the admin at once: both forms pass their unique check before
either commits; the second comes back with the name's error, nothing of it saved or
recorded."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from tests.concurrency import queued_behind_the_chain
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_staff_adding_one_group_in_the_admin_at_once(audit_since):
    clients = []
    for username in ("admin-1", "admin-2"):
        clients.append(Client())
        clients[-1].force_login(UserFactory(username=username, is_staff=True, is_superuser=True))
    url = reverse("admin:auth_group_add")
    # A group made with a permission records it, so each save waits for the audit chain's
    # lock after it inserted its group.
    data = {"name": "readers", "permissions": [Permission.objects.get(codename="view_team").pk]}
    since = audit_since()
    added, refused = queued_behind_the_chain(
        *(lambda client=client: client.post(url, data) for client in clients)
    )
    assert (added.status_code, refused.status_code) == (302, 200)
    assert refused.context["adminform"].form.errors == {
        "name": ["Group with this Name already exists."]
    }
    assert Group.objects.filter(name="readers").count() == 1
    assert [(e.action, e.actor_label) for e in since()] == [
        ("group.permissions_changed", "admin-1")
    ]
