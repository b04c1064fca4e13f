"""The admin answers a query string its lists cannot read, or a bulk action naming rows by
what is no key, with a 400 naming the parameter.

Every list of every registered model (the project's and the third-party apps' alike) is
asked with a NUL in each of its filters and its search, and for a date hierarchy with a
year past what the admin can turn into a date: each was a server error, PostgreSQL
refusing the NUL or Python the year. New admins are swept as they are registered.
"""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from audit.models import AuditEvent
from config.admin import query_refusal

pytestmark = pytest.mark.django_db

HUGE = "9" * 20


@pytest.fixture
def superuser(staff):
    staff.is_superuser = True
    staff.save()
    return staff


def _changelists():
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        yield reverse("admin:{}_{}_changelist".format(*info)), model_admin


def _filter_parameters(model_admin) -> list[str]:
    """Return the query parameters of the list's field filters, as its sidebar's links send."""
    names = [f for f in model_admin.list_filter if isinstance(f, str)]
    return ["q", *names, *(f"{name}__exact" for name in names)]


def test_a_nul_in_any_filter_is_a_400_naming_it(client, superuser, agent):
    client.force_login(superuser)
    wrong = []
    for url, model_admin in _changelists():
        assert client.get(url).status_code == 200, url
        for name in _filter_parameters(model_admin):
            response = client.get(f"{url}?{name}=a%00b")
            text = response.content.decode()
            if response.status_code != 400 or f"{name}: Null characters" not in text:
                wrong.append(f"{url}?{name}=a%00b: {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_a_date_hierarchy_past_any_year_is_a_400_naming_it(client, superuser):
    client.force_login(superuser)
    dated = [(url, a.date_hierarchy) for url, a in _changelists() if a.date_hierarchy]
    assert dated, "no list has a date hierarchy: sweep another parameter"
    for url, field in dated:
        for part in ("year", "month", "day"):
            name = f"{field}__{part}"
            response = client.get(f"{url}?{field}__year=2026&{name}={HUGE}")
            assert response.status_code == 400, (url, name)
            assert f"{name}: a whole number" in response.content.decode()
        # A year of the hierarchy's own links still lists.
        assert client.get(f"{url}?{field}__year=2026").status_code == 200


def test_the_refusal_changes_nothing_the_admin_does_with_good_input(client, superuser, agent):
    client.force_login(superuser)
    response = client.get("/admin/agents/agent/?status__exact=draft&q=support")
    assert response.status_code == 200
    assert query_refusal(response.wsgi_request.GET) is None


def test_a_nul_in_a_parameters_name_is_refused_too(client, superuser):
    client.force_login(superuser)
    response = client.get("/admin/agents/agent/?status%00=draft")
    assert response.status_code == 400
    assert "status\\x00: Null characters" in response.content.decode()


def test_a_bulk_action_naming_no_row_by_its_key_is_a_400_naming_the_parameter(
    client, superuser, make_token, owner
):
    """The admin filters a list by the rows an action names as they come: one that is no key
    of the list's model was a ValueError from the query, on every list with actions."""
    token, _ = make_token(owner, "gate:check")
    client.force_login(superuser)
    request = RequestFactory().get("/admin/")
    request.user = superuser
    lists = [
        (url, next(iter(actions)))
        for url, model_admin in _changelists()
        if (actions := model_admin.get_actions(request))
    ]
    assert "/admin/tokens/apitoken/" in dict(lists)
    since = AuditEvent.objects.count()
    wrong = []
    for url, action in lists:
        for key in ("abc", "", "1\x00"):
            data = {"action": action, "index": "0", "_selected_action": [key]}
            response = client.post(url, data)
            text = response.content.decode()
            if response.status_code != 400 or "_selected_action: " not in text:
                wrong.append(f"{url} {action} {key!r}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert "invalid_selection" in text
    assert AuditEvent.objects.count() == since
    # A key of the list's model still reaches the action.
    data = {"action": "revoke", "index": "0", "_selected_action": [str(token.pk)]}
    assert client.post("/admin/tokens/apitoken/", data).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_who_may_not_use_the_admin_is_sent_to_sign_in_before_the_query_is_read(client, owner):
    path = reverse("admin:agents_agent_changelist")
    answer = client.get(path, {"q": "a\x00b"})
    assert answer.status_code == 302 and answer["Location"].startswith(reverse("admin:login"))
    client.force_login(owner)
    answer = client.get(path, {"q": "a\x00b"})
    assert answer.status_code == 302 and answer["Location"].startswith(reverse("admin:login"))
