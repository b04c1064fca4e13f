"""Usage by day: written with the observations, read per scope entry, pruned after the windows."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from agents.models import Observation, UsageDay
from agents.observations import observations_record, observations_validate
from agents.tasks import usage_days_prune_old
from agents.usage import USAGE_DAYS_KEPT, usage_days_add, usage_of
from audit.actors import Actor
from audit.models import AuditEvent
from audit.verify import audit_verify
from config.errors import InvalidInput, NotPermitted
from tests.concurrency import Held, queued
from web.audit_words import event_sentence

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")


def item(identifier="kb-search", access="read", days_ago=0, **extra):
    seen = timezone.now() - timedelta(days=days_ago)
    return {
        "kind": "tool",
        "identifier": identifier,
        "access": access,
        "seen_at": seen.isoformat(),
        **extra,
    }


def days(agent):
    return {
        (d.identifier, d.access, d.day): (d.uses, d.denies, d.decisions)
        for d in UsageDay.objects.filter(agent=agent)
    }


def test_reported_uses_are_counted_per_day(agent, owner):
    today = timezone.now().date()
    observations_record(
        actor=Actor.for_user(owner),
        agent=agent,
        items=[item(count=2), item(count=3), item(days_ago=40)],
    )
    assert days(agent) == {
        ("kb-search", "read", today): (5, 0, 0),
        ("kb-search", "read", today - timedelta(days=40)): (1, 0, 0),
    }
    # The running total is as it always was: one observation for the use.
    assert Observation.objects.get(agent=agent).count == 6


def test_decisions_keep_their_denies_and_count_as_decisions(agent):
    observations_record(actor=SYSTEM, agent=agent, items=[item(count=5, denies=2)], decisions=True)
    (row,) = days(agent).values()
    assert row == (3, 2, 5)
    event = AuditEvent.objects.get(action="observations.recorded")
    assert event.data["denies"] == 2


def test_only_the_system_records_decisions(agent, owner):
    with pytest.raises(NotPermitted):
        observations_record(
            actor=Actor.for_user(owner), agent=agent, items=[item()], decisions=True
        )
    assert not UsageDay.objects.exists()


def test_a_report_cannot_claim_denies(agent, owner):
    with pytest.raises(InvalidInput) as error:
        observations_record(actor=Actor.for_user(owner), agent=agent, items=[item(denies=1)])
    assert "items[0].non_field_errors" in error.value.fields
    assert not UsageDay.objects.exists() and not Observation.objects.exists()


def test_denies_beyond_the_count_are_refused_and_nothing_is_written(agent):
    with pytest.raises(InvalidInput) as error:
        observations_record(
            actor=SYSTEM,
            agent=agent,
            items=[item(count=2), item("zendesk", count=1, denies=2)],
            decisions=True,
        )
    assert error.value.fields == {"items[1].denies": ["Must not exceed count."]}
    assert not UsageDay.objects.exists() and not Observation.objects.exists()


def test_usage_per_entry_counts_what_its_access_allows(agent):
    observations_record(
        actor=SYSTEM,
        agent=agent,
        items=[
            item("zendesk", "read", days_ago=10, count=4),
            item("zendesk", "write", days_ago=60, count=2, denies=1),
            item("kb-search", "write", days_ago=1, count=3, denies=3),
            item("shell", "execute", days_ago=2, count=1, denies=1),
        ],
        decisions=True,
    )
    entries = [
        ("tool", "zendesk", "write"),
        ("tool", "kb-search", "read"),
        ("tool", "slack", "read"),
    ]
    usage = usage_of(agent, entries)
    zendesk, kb, slack = usage.entries
    assert (zendesk.uses, zendesk.denies) == ({30: 4, 90: 5}, {30: 0, 90: 1})
    assert zendesk.last_used == (timezone.now() - timedelta(days=10)).date()
    # kb-search was asked for with write, which its read entry does not allow.
    assert (kb.uses, kb.never_used) == ({30: 0, 90: 0}, True)
    assert slack.never_used and not slack.used_recently
    assert [use.identifier for use in usage.unused] == ["kb-search", "slack"]
    outside = {(use.identifier, use.access): use.denies[30] for use in usage.outside}
    assert outside == {("kb-search", "write"): 3, ("shell", "execute"): 1}


def test_a_use_older_than_the_days_kept_is_not_never_used(agent):
    last = timezone.now() - timedelta(days=200)
    Observation.objects.create(
        agent=agent,
        kind="tool",
        identifier="zendesk",
        access="read",
        first_seen=last,
        last_seen=last,
    )
    (use,) = usage_of(agent, [("tool", "zendesk", "write")]).entries
    assert use.last_used == last.date() and not use.never_used and not use.used_recently


def test_usage_reads_the_sightings_of_its_entries_only(agent):
    """An agent seen using thousands of endpoints: only its entries' sightings are read."""
    last = timezone.now() - timedelta(days=200)
    Observation.objects.bulk_create(
        Observation(
            agent=agent,
            kind="endpoint",
            identifier=f"https://svc.internal/orders/{n}",
            access="read",
            first_seen=last,
            last_seen=last,
        )
        for n in range(40)
    )
    Observation.objects.create(
        agent=agent,
        kind="tool",
        identifier="zendesk",
        access="read",
        first_seen=last,
        last_seen=last,
    )
    read = []

    def count_rows(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if 'FROM "agents_observation"' in sql:
            read.append(context["cursor"].rowcount)
        return result

    with connection.execute_wrapper(count_rows):
        usage = usage_of(agent, [("tool", "zendesk", "write")])
    assert read == [1]
    assert usage.entries[0].last_used == last.date() and usage.outside == []


def test_days_past_the_kept_window_are_pruned_and_the_prune_is_an_audit_event(agent, owner):
    """Reviews read usage from the days: the scheduled job that deletes some records it;
    a run with nothing to delete records nothing."""
    observations_record(
        actor=Actor.for_user(owner),
        agent=agent,
        items=[
            item(days_ago=USAGE_DAYS_KEPT + 1),
            item("zendesk", days_ago=USAGE_DAYS_KEPT + 5),
            item(days_ago=USAGE_DAYS_KEPT - 1),
        ],
    )
    before = AuditEvent.objects.count()
    assert usage_days_prune_old.apply().get() == 2
    assert UsageDay.objects.count() == 1
    (event,) = AuditEvent.objects.filter(action="usage.days_pruned")
    older_than = timezone.now().date() - timedelta(days=USAGE_DAYS_KEPT)
    assert event.data == {
        "deleted": 2,
        "older_than": older_than.isoformat(),
        "days_kept": USAGE_DAYS_KEPT,
    }
    assert event.actor_label == "celery:usage_days_prune_old" and event.agent_slug == ""
    assert event_sentence(event) == (
        "Countersign (usage days prune old) deleted 2 daily runtime usage counts dated before "
        f"{older_than.isoformat()} ({USAGE_DAYS_KEPT} days are kept)"
    )
    assert usage_days_prune_old.apply().get() == 0
    assert AuditEvent.objects.count() == before + 1
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_two_writers_listing_the_same_days_in_opposite_orders_both_commit(agent):
    """The days are written in the order of their keys, whatever order the items come in:
    two transactions adding to the same days queue for them instead of deadlocking."""
    earlier, later = observations_validate([item(days_ago=1), item()])
    usage_days_add(agent_id=agent.pk, items=[earlier, later], decisions=False)
    row = UsageDay.objects.get(agent=agent, day=earlier["seen_at"].date())

    def write(*items):
        def run():
            with transaction.atomic():
                usage_days_add(agent_id=agent.pk, items=list(items), decisions=False)

        return run

    table = UsageDay._meta.db_table
    with Held(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [row.pk]) as held:  # noqa: S608
        errors = queued(held, write(earlier, later), write(later, earlier))
    assert not errors, errors
    assert {day.uses for day in UsageDay.objects.filter(agent=agent)} == {3}
