"""The audit page: filters, keyset paging by sequence number, and who sees what."""

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from audit import signing
from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(db, owner, other_owner, agent):
    """Write 120 events: 80 on the owner's agent, 40 on another team's agent."""
    other = AgentFactory(slug="other-team-agent", team="finance", owners=[other_owner])
    for n in range(120):
        who, slug = (owner, agent.slug) if n % 3 else (other_owner, other.slug)
        audit_record(
            actor=Actor.for_user(who),
            action="agent.updated" if n % 2 else "package.created",
            agent_slug=slug,
            data={"n": n},
        )
    return AuditEvent.objects.order_by("seq")


def seqs(response):
    return [event.seq for event in response.context["page"].events]


def test_pages_walk_back_by_sequence_and_forward_again(client, trail, reviewers):
    client.force_login(reviewers["iam"][0])
    url = reverse("audit-log")
    all_seqs = sorted(trail.values_list("seq", flat=True), reverse=True)
    first = client.get(url)
    assert seqs(first) == all_seqs[:50]
    page = first.context["page"]
    assert page.newer is None and page.older == all_seqs[49]
    second = client.get(url, {"before": page.older})
    assert seqs(second) == all_seqs[50:100]
    third = client.get(url, {"before": second.context["page"].older})
    assert seqs(third) == all_seqs[100:]
    assert third.context["page"].older is None
    back = client.get(url, {"after": third.context["page"].newer})
    assert seqs(back) == all_seqs[50:100]


def test_paging_reads_by_seq_without_offset_or_count(client, trail, reviewers):
    client.force_login(reviewers["iam"][0])
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("audit-log"), {"before": 60, "agent": "support-assistant"})
    audit_sql = [q["sql"] for q in queries if "audit_auditevent" in q["sql"]]
    assert len(audit_sql) == 1
    sql = audit_sql[0].upper()
    assert "OFFSET" not in sql and "COUNT(" not in sql
    assert '"SEQ" < 60' in sql and "LIMIT 51" in sql


def test_filters(client, trail, owner, reviewers, agent):
    client.force_login(reviewers["iam"][0])
    url = reverse("audit-log")
    events = client.get(url, {"agent": agent.slug, "action": "agent.updated"}).context["page"]
    assert events.events and all(
        e.agent_slug == agent.slug and e.action == "agent.updated" for e in events.events
    )
    by_actor = client.get(url, {"actor": "other-owner"}).context["page"].events
    assert by_actor and {e.actor_label for e in by_actor} == {"other-owner"}
    later = timezone.now() + timedelta(minutes=5)
    assert client.get(url, {"since": later.strftime("%Y-%m-%dT%H:%M")}).context["page"].events == []


def test_a_product_owner_sees_only_their_teams_events(client, trail, owner, agent):
    client.force_login(owner)
    events = client.get(reverse("audit-log")).context["page"].events
    assert events and {e.agent_slug for e in events} == {agent.slug}
    assert (
        client.get(reverse("audit-log"), {"agent": "other-team-agent"}).context["page"].events == []
    )


def test_audit_readers_see_every_event_and_the_export_links(client, trail, reviewers, owner):
    client.force_login(reviewers["compliance"][0])
    response = client.get(reverse("audit-log"), {"action": "package.created"})
    html = response.content.decode()
    csv = reverse("audit-export-csv")
    assert f'href="{csv}?action=package.created"' in html
    assert reverse("audit-export-jsonl") in html
    client.force_login(owner)
    html = client.get(reverse("audit-log")).content.decode()
    assert csv not in html


def test_audit_readers_see_the_evidence_signing_keys_fingerprint(client, trail, reviewers, owner):
    fingerprint = signing.fingerprint()
    client.force_login(reviewers["compliance"][0])
    html = client.get(reverse("audit-log")).content.decode()
    assert f"tools/verify-evidence --fingerprint {fingerprint} BUNDLE.zip" in html
    client.force_login(owner)
    assert fingerprint not in client.get(reverse("audit-log")).content.decode()


def test_events_of_no_agent_are_for_audit_readers_only(client, checklists, reviewers):
    loaded = AuditEvent.objects.filter(action="checklist.loaded").count()
    assert loaded == len(checklists) == 12  # four dimensions, three versions each
    client.force_login(reviewers["compliance"][0])
    events = client.get(reverse("audit-log")).context["page"].events
    assert sum(e.action == "checklist.loaded" for e in events) == loaded
    client.force_login(reviewers["iam"][0])
    events = client.get(reverse("audit-log")).context["page"].events
    assert not any(e.action == "checklist.loaded" for e in events)


def test_invalid_filters_are_reported_not_a_crash(client, trail, reviewers):
    client.force_login(reviewers["compliance"][0])
    response = client.get(reverse("audit-log"), {"since": "yesterday-ish"})
    assert response.status_code == 200
    assert response.context["form"].errors["since"]
    html = response.content.decode()
    assert 'class="errorlist' in html and "A filter is invalid and was ignored" in html
    assert "<strong>From (UTC)</strong>: Enter a valid date/time." in html
    unfiltered = client.get(reverse("audit-log")).context["page"].events
    assert response.context["page"].events == unfiltered != []
    assert f'href="{reverse("audit-export-csv")}"' in html


def test_a_time_in_any_offset_is_read_and_one_utc_cannot_hold_is_a_field_error(
    client, trail, reviewers
):
    client.force_login(reviewers["compliance"][0])
    # PostgreSQL refuses offsets past ±15:59; this one reached it as sent and answered 500.
    response = client.get(reverse("audit-log"), {"since": "2000-01-01T00:00:00-21:31"})
    assert response.status_code == 200
    assert not response.context["form"].errors and response.context["page"].events
    response = client.get(reverse("audit-log"), {"until": "9999-12-31T23:00:00-05:00"})
    assert response.status_code == 200
    assert response.context["form"].errors["until"] == [
        "Must fall within the years 1 to 9999 in UTC."
    ]


def test_the_export_links_carry_the_filters_of_a_filtering_request(client, trail, reviewers):
    """Filtering swaps only the events in; the export links come along out of band."""
    client.force_login(reviewers["compliance"][0])
    filters = {
        "agent": "support-assistant",
        "actor": "owner",
        "action": "agent.updated",
        "since": "2000-01-01T00:00",
        "until": "2999-01-01T00:00",
    }
    response = client.get(reverse("audit-log"), filters, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert 'id="audit-exports" hx-swap-oob="true"' in html
    query = urlencode(filters).replace("&", "&amp;")
    assert f'href="{reverse("audit-export-csv")}?{query}"' in html
    assert f'href="{reverse("audit-export-jsonl")}?{query}"' in html
    shown = {e.seq for e in response.context["page"].events}
    export = client.get(reverse("audit-export-jsonl"), filters)
    assert export.status_code == 200
    lines = b"".join(export.streaming_content).decode().splitlines()
    exported = {json.loads(line)["seq"] for line in lines if '"seq"' in line}
    assert shown and shown <= exported
    assert len(exported) == 40


def test_an_export_with_a_bad_filter_answers_the_json_error_shape(client, trail, reviewers):
    client.force_login(reviewers["compliance"][0])
    response = client.get(reverse("audit-export-csv"), {"since": "notadate"})
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "invalid" and body["message"]
    assert list(body["fields"]) == ["since"] and body["fields"]["since"]


def test_the_time_filters_read_their_wall_clock_time_as_utc_and_say_so(client, trail, reviewers):
    """A browser's datetime-local input sends no offset: the page reads it as UTC, the zone
    of the times it lists, and its labels say so, and that "until" is exclusive."""
    client.force_login(reviewers["compliance"][0])
    newest = AuditEvent.objects.order_by("-seq").first()
    at = newest.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")
    html = client.get(reverse("audit-log")).content.decode()
    assert ">From (UTC)</label>" in html and ">Until (UTC, exclusive)</label>" in html
    events = client.get(reverse("audit-log"), {"until": at}).context["page"].events
    assert events and newest.seq not in [event.seq for event in events]
    events = client.get(reverse("audit-log"), {"since": at}).context["page"].events
    assert newest.seq in [event.seq for event in events]


UNTIL_BEFORE_SINCE = "Must be later than since (From): no event lies in this range."


def test_a_range_that_ends_before_it_starts_is_a_field_error_not_an_empty_page(
    client, trail, reviewers
):
    """Until is exclusive: at or before From, the range can hold no event. The page says so
    on the field and lists the trail unfiltered by it; the export and the API refuse it."""
    client.force_login(reviewers["compliance"][0])
    for until in ("2000-01-01T00:00", "2010-01-01T00:00"):
        filters = {"since": "2010-01-01T00:00", "until": until}
        response = client.get(reverse("audit-log"), filters)
        assert response.status_code == 200
        assert response.context["form"].errors["until"] == [UNTIL_BEFORE_SINCE]
        unfiltered = client.get(reverse("audit-log")).context["page"].events
        assert response.context["page"].events == unfiltered != []
        export = client.get(reverse("audit-export-csv"), filters)
        assert export.status_code == 400
        assert export.json()["error"]["fields"] == {"until": [UNTIL_BEFORE_SINCE]}
        api = client.get("/api/v1/audit/events", filters)
        assert api.status_code == 400
        assert api.json()["error"]["fields"] == {"until": [UNTIL_BEFORE_SINCE]}
    filters = {"since": "2000-01-01T00:00", "until": "2999-01-01T00:00"}
    assert not client.get(reverse("audit-log"), filters).context["form"].errors
