"""Rate limits per token: one bucket for gate checks, one for writes."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from tokens.models import ApiToken

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class TokenRateThrottle(SimpleRateThrottle):
    """Count requests per token (per user for sessions, per address otherwise).

    The rate is read from the settings on each request rather than once at
    import, so it follows `REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` as set.
    """

    scope = ""
    cache_format = "throttle:%(scope)s:%(ident)s"

    def __init__(self):
        pass

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        self.rate = self.get_rate()
        if not self.rate:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"addr:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class GateThrottle(TokenRateThrottle):
    scope = "gate"


class WriteThrottle(TokenRateThrottle):
    """Throttle only the methods that change something."""

    scope = "writes"

    def get_cache_key(self, request, view):
        if request.method in SAFE_METHODS:
            return None
        return super().get_cache_key(request, view)
