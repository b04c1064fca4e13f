"""Observations over HTTP: 202 for a batch, every bad item by index, nothing stored on error."""

from datetime import timedelta

import pytest
from django.utils import timezone

from agents.models import Observation, UsageDay
from agents.observations import MAX_CLOCK_SKEW
from tests.api.conftest import error_of
from tokens.models import Scope

pytestmark = pytest.mark.django_db


def url(agent):
    return f"/api/v1/agents/{agent.slug}/observations"


def test_a_batch_is_accepted_and_aggregated(api, owner, agent, audit_since):
    client = api(owner, Scope.OBSERVATIONS_WRITE)
    since = audit_since()
    items = [{"kind": "tool", "identifier": "kb-search", "access": "read"}] * 3 + [
        {"kind": "dataset", "identifier": "crm.tickets", "access": "read", "count": 5}
    ]
    response = client.post(url(agent), {"items": items}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json() == {"accepted": 4}
    rows = {(o.kind, o.identifier): o.count for o in Observation.objects.filter(agent=agent)}
    assert rows == {("tool", "kb-search"): 3, ("dataset", "crm.tickets"): 5}
    (event,) = since()
    assert event.action == "observations.recorded"
    assert event.token_label.startswith(f"token:{client.token.prefix}")


def test_bad_items_are_reported_by_index_and_none_stored(api, owner, agent):
    client = api(owner, Scope.OBSERVATIONS_WRITE)
    items = [
        {"kind": "tool", "identifier": "kb-search", "access": "read"},
        {"kind": "spell", "identifier": "x", "access": "read"},
        {"kind": "tool", "identifier": "", "access": "root"},
    ]
    response = client.post(url(agent), {"items": items}, format="json")
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert "items[1].kind" in fields
    assert {"items[2].identifier", "items[2].access"} <= set(fields)
    assert not Observation.objects.exists()


def test_an_empty_or_oversized_batch_is_400(api, owner, agent):
    client = api(owner, Scope.OBSERVATIONS_WRITE)
    assert client.post(url(agent), {"items": []}, format="json").status_code == 400
    huge = [{"kind": "tool", "identifier": "t", "access": "read"}] * 10_001
    response = client.post(url(agent), {"items": huge}, format="json")
    assert response.status_code == 400
    assert "items" in error_of(response)["fields"]
    assert not Observation.objects.exists()


def test_observations_need_their_scope(api, owner, agent):
    response = api(owner, Scope.GATE_CHECK).post(
        url(agent),
        {"items": [{"kind": "tool", "identifier": "t", "access": "read"}]},
        format="json",
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "insufficient_scope"


def test_nul_characters_are_refused_not_a_server_error(api, owner, agent):
    client = api(owner, Scope.OBSERVATIONS_WRITE)
    items = [{"kind": "tool", "identifier": "a\u0000b", "access": "read", "source": "x\u0000"}]
    response = client.post(url(agent), {"items": items}, format="json")
    assert response.status_code == 400
    assert {"items[0].identifier", "items[0].source"} <= set(error_of(response)["fields"])
    assert not Observation.objects.exists()


def test_a_time_a_little_ahead_of_the_server_is_kept_as_the_report_arrived(api, owner, agent):
    """A runtime's clock may run ahead (up to MAX_CLOCK_SKEW is accepted), but a use cannot
    have happened after its report arrived: the sighting and its day are the server's now,
    never a time to come ("last used" tomorrow, a finding first seen later than it is read)."""
    client = api(owner, Scope.OBSERVATIONS_WRITE)
    ahead = (timezone.now() + MAX_CLOCK_SKEW - timedelta(seconds=30)).isoformat()
    item = {"kind": "tool", "identifier": "kb-search", "access": "read", "seen_at": ahead}
    response = client.post(url(agent), {"items": [item]}, format="json")
    after = timezone.now()
    assert response.status_code == 202, response.json()
    observation = Observation.objects.get(agent=agent)
    assert observation.first_seen == observation.last_seen <= after
    assert UsageDay.objects.get(agent=agent).day <= after.date()
