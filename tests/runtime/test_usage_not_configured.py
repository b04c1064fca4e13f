"""Without REDIS_URL the decision point answers but counts nothing, and says so once."""

import logging

import pytest

from runtime.usage import NOT_COUNTED, not_counted_said, usage_client
from tests.runtime.conftest import ask

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_usage_redis(settings):
    settings.COUNTERSIGN = {**settings.COUNTERSIGN, "USAGE_REDIS_URL": None}
    not_counted_said.cache_clear()  # a fresh process, as far as the log is concerned
    yield
    not_counted_said.cache_clear()


def test_decisions_are_answered_and_the_log_says_once_they_are_not_counted(
    approved, gateway, agent, no_usage_redis, caplog
):
    with caplog.at_level(logging.WARNING, logger="runtime.usage"):
        for _ in range(3):
            answer = ask(gateway, agent.slug, "read", "tool", "kb-search")
            assert answer.status_code == 200 and answer.json() == {"decision": True}
    said = [r for r in caplog.records if r.name == "runtime.usage"]
    assert [r.getMessage() for r in said] == [NOT_COUNTED]
    assert usage_client() is None
