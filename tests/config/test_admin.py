"""The admin adds, changes and deletes only what a service behind it audits."""

from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory

from approvals.models import DriftFinding
from audit.models import AuditEvent
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
