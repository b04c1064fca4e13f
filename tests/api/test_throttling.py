"""Throttle leases: one count in the cache for many requests, and the limit still holds."""

import pytest
from django.conf import settings as dj_settings
from django.core.cache import caches
from django.test import override_settings
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from api import throttling
from api.throttling import GateThrottle, Leases, lease_size
from tests.api.conftest import FrozenClock
from tokens.models import Scope

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch):
    frozen = FrozenClock(1_800_000_000.0)
    monkeypatch.setattr("api.throttling.time", frozen)
    return frozen


@pytest.fixture
def token(make_token, owner):
    return make_token(owner, Scope.GATE_CHECK)[0]


def gate_rate(rate: str):
    rates = {**dj_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "gate": rate}
    return override_settings(
        REST_FRAMEWORK={**dj_settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    )


def allowed(token) -> bool:
    request = Request(APIRequestFactory().post("/api/v1/gate/check"))
    request.user, request.auth = token.user, token
    return GateThrottle().allow_request(request, None)


def counted(token, clock) -> int:
    """Return the window's count in Redis for the token's gate bucket."""
    backend = caches["default"]
    window = int(clock.now // 60)
    value = backend._cache.get_client().get(
        backend.make_key(f"throttle:gate:token:{token.pk}:{window}")
    )
    return int(value or 0)


def test_lease_sizes():
    assert [lease_size(n) for n in (1, 150, 199, 200, 250, 3_200, 6_000, 10**8)] == [
        1,
        1,
        1,
        2,
        2,
        32,
        32,
        32,
    ]


def test_one_count_in_the_cache_lets_a_lease_of_requests_through(token, clock):
    with gate_rate("6000/min"):
        assert all(allowed(token) for _ in range(32))
        assert counted(token, clock) == 32, "one INCRBY for the 32 requests"
        assert allowed(token)
        assert counted(token, clock) == 64


def test_a_small_limit_counts_every_request(token, clock):
    with gate_rate("150/min"):
        for n in range(1, 4):
            assert allowed(token)
            assert counted(token, clock) == n


@pytest.mark.parametrize("limit", [250, 201])
def test_two_processes_leasing_never_exceed_the_limit(token, clock, monkeypatch, limit):
    """Two processes (each its own lease store) take turns; together they get the limit."""
    stores = [throttling.LEASES, Leases()]
    verdicts = []
    with gate_rate(f"{limit}/min"):
        for n in range(limit + 20):
            monkeypatch.setattr(throttling, "LEASES", stores[n % 2])
            verdicts.append(allowed(token))
    assert sum(verdicts) == limit, "every leased request was used, none beyond the limit"
    assert not any(verdicts[-10:])
    clock.now += 60  # a new window starts afresh
    with gate_rate(f"{limit}/min"):
        assert allowed(token)


def test_a_lease_is_only_good_in_its_own_window(token, clock):
    with gate_rate("6000/min"):
        assert allowed(token)
        clock.now += 60
        assert allowed(token)
        assert counted(token, clock) == 32, "the new window counted a lease of its own"
