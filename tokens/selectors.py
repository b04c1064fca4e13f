"""Reads on API tokens."""

import hmac

from django.apps import apps
from django.db.models import Exists, OuterRef, QuerySet

from tokens.models import ApiToken
from tokens.services import token_hash, token_prefix_of

Binding = ApiToken.agents.through


def token_for_secret(secret: str) -> ApiToken | None:
    """Return the token (with its user, and whether it is bound) in one query, or None."""
    prefix = token_prefix_of(secret)
    if prefix is None:
        return None
    try:
        token = (
            ApiToken.objects.select_related("user")
            .annotate(bound=Exists(Binding.objects.filter(apitoken_id=OuterRef("pk"))))
            .get(prefix=prefix)
        )
    except ApiToken.DoesNotExist:
        return None
    if not hmac.compare_digest(token.key_hash, token_hash(secret)):
        return None
    return token


def tokens_list(*, user=None, include_revoked: bool = True):
    """Return the tokens with their agents, newest first, optionally of one user only."""
    tokens = (
        ApiToken.objects.select_related("user").prefetch_related("agents").order_by("-created_at")
    )
    if user is not None:
        tokens = tokens.filter(user=user)
    if not include_revoked:
        tokens = tokens.filter(revoked_at__isnull=True)
    return tokens


def within_binding(agents: QuerySet, token) -> QuerySet:
    """Return the agents narrowed to the token's when it is bound; unchanged otherwise.

    `token` is a request's `auth`: None or anything but a token (a browser
    session) narrows nothing.
    """
    if not isinstance(token, ApiToken) or not token.is_bound():
        return agents
    return agents.filter(pk__in=Binding.objects.filter(apitoken_id=token.pk).values("agent_id"))


def token_binds(token, agent_slug: str) -> bool:
    """Return whether the request's token may reach the agent of this slug by its binding.

    True for a token bound to no agent (and for a session); a bound token
    reaches only its agents. One query, and only for a bound token.
    """
    if not isinstance(token, ApiToken) or not token.is_bound():
        return True
    return Binding.objects.filter(apitoken_id=token.pk, agent__slug=agent_slug).exists()


def agents_by_slugs(slugs) -> tuple[list, list[str]]:
    """Return the agents of these slugs and the slugs no agent has.

    The agents app sits beside this one and is not imported: its model is
    found through the app registry.
    """
    slugs = list(dict.fromkeys(slugs or ()))
    agent_model = apps.get_model("agents", "Agent")
    found = list(agent_model.objects.filter(slug__in=slugs).order_by("slug"))
    known = {agent.slug for agent in found}
    return found, [slug for slug in slugs if slug not in known]
