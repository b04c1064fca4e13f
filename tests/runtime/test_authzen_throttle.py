"""The AuthZEN endpoints are rate-limited per token; a 429 has the binding's error shape."""

import pytest
from django.conf import settings as dj_settings
from django.test import override_settings

from tests.runtime.conftest import EVALUATIONS, ask
from tokens.models import Scope

pytestmark = pytest.mark.django_db


def test_decisions_are_throttled_per_token_with_the_bindings_error_shape(
    approved, agent, gateway, api, staff, clock
):
    rates = {**dj_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "decisions": "2/min"}
    batch = {
        "subject": {"type": "agent", "id": agent.slug},
        "action": {"name": "read"},
        "evaluations": [{"resource": {"type": "tool", "id": "kb-search"}}] * 3,
    }
    with override_settings(
        REST_FRAMEWORK={**dj_settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    ):
        assert ask(gateway, agent.slug, "read", "tool", "kb-search").json() == {"decision": True}
        # A batch counts once, whatever its size.
        assert gateway.post(EVALUATIONS, batch, format="json").status_code == 200
        throttled = ask(gateway, agent.slug, "read", "tool", "kb-search")
        assert throttled.status_code == 429
        assert throttled["Retry-After"] == "60"
        assert isinstance(throttled.json(), str) and "throttled" in throttled.json()
        assert gateway.post(EVALUATIONS, batch, format="json").status_code == 429
        # Another token has a bucket of its own.
        other = api(staff, Scope.DECISIONS_EVALUATE)
        assert ask(other, agent.slug, "read", "tool", "kb-search").status_code == 200
        clock.now += 60
        assert ask(gateway, agent.slug, "read", "tool", "kb-search").status_code == 200
