"""The lock-order guard (tests/lockorder.py) sees a row locked after the audit chain's lock."""

import pytest
from django.db import connection, transaction

from agents.models import Agent
from audit.actors import Actor
from audit.services import audit_record
from tests.factories import AgentFactory
from tests.lockorder import Watcher, unsafe

SYSTEM = Actor.system("tests")


@pytest.fixture
def lock_order():
    """These tests lock rows after the chain's lock on purpose: the guard watches them."""
    yield


def _lock(agent):
    Agent.objects.select_for_update(no_key=True).get(pk=agent.pk)


def _event():
    audit_record(actor=SYSTEM, action="test.event")


def _watched(*steps) -> list:
    agent = AgentFactory()
    watcher = Watcher(connection)
    try:
        with transaction.atomic():
            for step in steps:
                step(agent)
    finally:
        findings = watcher.close()
    return findings


@pytest.mark.django_db
def test_a_row_locked_after_the_first_event_is_found_with_its_frame():
    findings = _watched(lambda agent: _event(), _lock)
    assert [(f.phase, f.kind, f.table) for f in findings] == [("after", "lock", "agents_agent")]
    assert unsafe(findings) == findings


@pytest.mark.django_db
def test_a_row_locked_before_the_first_event_and_written_after_it_is_not():
    def write(agent):
        Agent.objects.filter(pk=agent.pk).update(name="Renamed")

    assert _watched(_lock, lambda agent: _event(), write) == []


@pytest.mark.django_db(transaction=True)
def test_the_next_transaction_starts_without_the_chain_lock():
    agent = AgentFactory()
    watcher = Watcher(connection)
    try:
        with transaction.atomic():
            _event()
        with transaction.atomic():
            _lock(agent)
    finally:
        findings = watcher.close()
    assert findings == []
