"""A batch of up to 10,000 observations is stored whole; one more is refused whole."""

import pytest

from agents.models import Observation
from agents.observations import MAX_ITEMS, UPSERT_CHUNK, observations_record
from audit.actors import Actor
from config.errors import InvalidInput
from tests.concurrency import Held, queued

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("tests")


def uses(n: int) -> list[dict]:
    return [
        {"kind": "endpoint", "identifier": f"https://svc/{i}", "access": "read"} for i in range(n)
    ]


def test_a_full_batch_of_distinct_uses_is_stored_across_chunks(agent, audit_since):
    assert MAX_ITEMS == 10_000 and MAX_ITEMS > UPSERT_CHUNK
    since = audit_since()
    assert observations_record(actor=ACTOR, agent=agent, items=uses(MAX_ITEMS)) == MAX_ITEMS
    assert Observation.objects.filter(agent=agent).count() == MAX_ITEMS
    assert [e.action for e in since()] == ["observations.recorded"]
    observations_record(actor=ACTOR, agent=agent, items=uses(MAX_ITEMS))
    assert set(Observation.objects.filter(agent=agent).values_list("count", flat=True)) == {2}


def test_one_item_over_the_limit_stores_nothing(agent, audit_since):
    since = audit_since()
    with pytest.raises(InvalidInput) as raised:
        observations_record(actor=ACTOR, agent=agent, items=uses(MAX_ITEMS + 1))
    assert "items" in raised.value.fields
    assert not Observation.objects.exists()
    assert since() == []


@pytest.mark.django_db(transaction=True)
def test_two_batches_listing_the_same_uses_in_opposite_orders_both_commit(agent):
    """A batch locks its uses' rows in one order, whatever order it lists them in: two
    replicas reporting the same uses at once queue for them instead of deadlocking."""
    first, second = uses(2)  # in the order of their keys
    observations_record(actor=ACTOR, agent=agent, items=[first, second])
    row = Observation.objects.get(agent=agent, identifier=first["identifier"])

    def batch(*items):
        return lambda: observations_record(actor=ACTOR, agent=agent, items=list(items))

    table = Observation._meta.db_table
    with Held(f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", [row.pk]) as held:  # noqa: S608
        errors = queued(held, batch(first, second), batch(second, first))
    assert not errors, errors
    assert set(Observation.objects.filter(agent=agent).values_list("count", flat=True)) == {3}
