"""The release gate's token lookup: the token and the decision in one query."""

import json
import logging

from django.core.exceptions import RequestDataTooBig

from approvals.api.serializers import agent_slug_valid
from approvals.gate import gate_token_and_decision
from tokens.selectors import token_for_secret

logger = logging.getLogger(__name__)


def gate_token_lookup(request, secret: str):
    """Read the token together with the decision row of the agent the body names.

    TokenAuthentication calls this for the gate view (its `token_lookup`). The
    row waits on the request (`gate_decision`: slug and row) for the view, which
    uses it when the request is valid and names that same agent. A body that
    does not say which agent is authenticated as on every other endpoint, and
    so is a request whose joined read failed: the gate then reads the decision
    itself, and denies if it cannot.
    """
    slug = _agent_named(request)
    if slug is not None:
        try:
            token, row = gate_token_and_decision(secret, slug)
        except Exception:
            logger.exception("gate: token and decision not read together for %s", slug)
        else:
            request.gate_decision = (slug, row)
            return token
    return token_for_secret(secret)


def _agent_named(request) -> str | None:
    """Return the agent slug a JSON body names, when it is a valid one; read nothing else."""
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError, RequestDataTooBig):
        return None
    agent = data.get("agent") if isinstance(data, dict) else None
    return agent if isinstance(agent, str) and agent_slug_valid(agent) else None
