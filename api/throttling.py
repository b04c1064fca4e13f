"""Rate limits per token: one bucket for gate checks, one for runtime decisions, one for writes.

A fixed window counted with one atomic increment in the cache: DRF's own
SimpleRateThrottle keeps every request's timestamp in one cached list, which
at the gate's rates means reading and writing thousands of floats per
request. A fixed window lets up to twice the rate through across a window
boundary, which is fine for a limit meant to stop a runaway client.

A process takes its requests from the window's count in leases: one count in
the cache claims up to 1% of the limit (at most 32 requests), which the process then
lets through without asking the cache again. At the gate's default 6,000/min
that is one count per 32 checks instead of one per check. A lease is
never larger than what is left under the limit, so the limit is never
exceeded; requests a process leased and did not use still count, so with N
processes the limit can trip up to N leases early, never late. Below 200 a
minute every request is counted on its own.
"""

import logging
import threading
import time

from django.core.cache import caches
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from api.principal import principal_of
from config.clients import client_address

logger = logging.getLogger(__name__)

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class TokenRateThrottle(BaseThrottle):
    """Count requests per token (per user for sessions, per address otherwise).

    The rate is read from the settings on each request rather than once at
    import, so it follows `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` as set.
    """

    scope = ""
    parse_rate = SimpleRateThrottle.parse_rate

    def __init__(self):
        self.window_ends = 0.0

    def get_cache_key(self, request, view) -> str | None:
        ident = principal_of(request) or f"addr:{client_address(request)}"
        return f"throttle:{self.scope}:{ident}"

    def allow_request(self, request, view) -> bool:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        if not rate:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        limit, duration = self.parse_rate(rate)
        now = time.time()
        window = int(now // duration)
        self.window_ends = (window + 1) * duration
        window_key = f"{key}:{window}"
        if LEASES.take(window_key):
            return True
        size = lease_size(limit)
        try:
            count = window_count(window_key, duration + 1, size)
        except RedisError:
            # A limit that cannot be counted lets the request through: the gate
            # still decides (and denies when it cannot), and the API stays up.
            logger.warning("throttle %s not counted: the cache is unavailable", self.scope)
            return True
        # The lease holds the counts count - size + 1 .. count; those up to the limit are ours.
        granted = min(size, limit - (count - size))
        if granted <= 0:
            return False
        LEASES.keep(window_key, granted - 1)
        return True

    def wait(self) -> float | None:
        return max(self.window_ends - time.time(), 0.0) or None


def lease_size(limit: int) -> int:
    """Return how many requests one count in the cache claims: 1% of the limit, 1 to 32."""
    return max(1, min(32, limit // 100))


class Leases:
    """This process's unused requests, per window key; safe across threads."""

    MAX_KEYS = 10_000  # past windows' keys are dropped wholesale beyond this

    def __init__(self):
        self._left: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, window_key: str) -> bool:
        """Use one leased request of this window, if any is left."""
        with self._lock:
            left = self._left.get(window_key, 0)
            if left <= 0:
                return False
            self._left[window_key] = left - 1
            return True

    def keep(self, window_key: str, count: int) -> None:
        with self._lock:
            if len(self._left) >= self.MAX_KEYS:
                self._left.clear()
            self._left[window_key] = count

    def clear(self) -> None:
        with self._lock:
            self._left.clear()


LEASES = Leases()


def window_count(key: str, ttl: int, amount: int = 1) -> int:
    """Count `amount` more requests in a window's key of the cache and return the count.

    Through the cache API (three round trips on Redis), which the leases make
    a price paid once per lease, not once per request.
    """
    cache = caches["default"]
    cache.add(key, 0, timeout=ttl)
    try:
        return cache.incr(key, amount)
    except ValueError:
        # The window's key expired between add and incr: start it again.
        cache.add(key, amount, timeout=ttl)
        return amount


class GateThrottle(TokenRateThrottle):
    scope = "gate"


class DecisionThrottle(TokenRateThrottle):
    """Runtime decisions (AuthZEN): a runtime asks before each tool call, so the rate is high."""

    scope = "decisions"


class WriteThrottle(TokenRateThrottle):
    """Throttle only the methods that change something."""

    scope = "writes"

    def get_cache_key(self, request, view):
        if request.method in SAFE_METHODS:
            return None
        return super().get_cache_key(request, view)
