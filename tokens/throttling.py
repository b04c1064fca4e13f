"""Rate limits per token: one bucket for gate checks, one for writes.

A fixed window counted with one atomic increment in the cache: DRF's own
SimpleRateThrottle keeps every request's timestamp in one cached list, which
at the gate's rates means reading and writing thousands of floats per
request. A fixed window lets up to twice the rate through across a window
boundary, which is fine for a limit meant to stop a runaway client.
"""

import logging
import time

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

from tokens.models import ApiToken

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
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"addr:{self.get_ident(request)}"
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
        try:
            count = window_count(f"{key}:{window}", duration + 1)
        except RedisError:
            # A limit that cannot be counted lets the request through: the gate
            # still decides (and denies when it cannot), and the API stays up.
            logger.warning("throttle %s not counted: the cache is unavailable", self.scope)
            return True
        return count <= limit

    def wait(self) -> float | None:
        return max(self.window_ends - time.time(), 0.0) or None


def window_count(key: str, ttl: int) -> int:
    """Count one more request in a window's key of the cache and return the count.

    On Redis one INCR (and an EXPIRE when it opened the key): one round trip per
    request, where the cache API's add + incr takes three. Other caches (the
    embedded default's local memory) go through the cache API.
    """
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        name = cache.make_and_validate_key(key)
        client = _redis_client(cache)
        count = client.incr(name)
        if count == 1:
            client.expire(name, ttl)
        return count
    cache.add(key, 0, timeout=ttl)
    try:
        return cache.incr(key)
    except ValueError:
        # The window's key expired between add and incr: start it again.
        cache.add(key, 1, timeout=ttl)
        return 1


def _redis_client(cache):
    """Return a Redis client on the cache's connection pool, made once per cache object.

    Django's Redis cache (its `_cache`) builds a new client object on every call,
    which costs more than the round trip; the pool behind it is shared either way.
    """
    client = getattr(cache, "_throttle_client", None)
    if client is None:
        client = cache._throttle_client = cache._cache.get_client(write=True)
    return client


class GateThrottle(TokenRateThrottle):
    scope = "gate"


class WriteThrottle(TokenRateThrottle):
    """Throttle only the methods that change something."""

    scope = "writes"

    def get_cache_key(self, request, view):
        if request.method in SAFE_METHODS:
            return None
        return super().get_cache_key(request, view)
