"""Reads on API tokens."""

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import QuerySet

from config.times import stored_time
from tokens.models import ApiToken, TokenState, token_state
from tokens.services import token_hash_matches, token_prefix_of

Binding = ApiToken.agents.through


@dataclass(frozen=True)
class RequestToken:
    """The token a request was authenticated with, and who its user is and whether active.

    Read in one statement on every API request. The user's own row is not
    loaded with it: `tokens.authentication.token_user` loads it when code asks
    for more of the user than the token carries, as the release gate never does.
    """

    pk: int
    prefix: str
    name: str
    scopes: tuple[str, ...]
    allowed_networks: tuple[str, ...]
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    bound: bool  # to agents: it reaches only them
    user_id: int
    username: str
    user_active: bool
    # Rights that widen what the user may touch, as the request found them: a write of the
    # token is refused if either is withdrawn before it records its event (token_confirm).
    user_staff: bool
    user_superuser: bool

    def state(self, now: datetime) -> TokenState:
        """Return what a use of the token is answered at `now` (`tokens.models.token_state`)."""
        return token_state(
            revoked_at=self.revoked_at,
            expires_at=self.expires_at,
            user_active=self.user_active,
            now=now,
        )

    def bound_agent_slugs(self) -> list[str] | None:
        """Return the slugs of the agents the token is bound to, or None when it is not bound."""
        if not self.bound:
            return None
        return list(
            Binding.objects.filter(apitoken_id=self.pk)
            .order_by("agent__slug")
            .values_list("agent__slug", flat=True)
        )


@cache
def _token_sql() -> str:
    """Return the statement reading a token by prefix, with its user's name and flags."""
    user_model = get_user_model()
    username = user_model._meta.get_field(user_model.USERNAME_FIELD).column
    return f"""
SELECT t.id, t.key_hash, t.name, t.scopes, t.allowed_networks, t.expires_at, t.revoked_at,
       t.last_used_at,
       EXISTS (SELECT 1 FROM {Binding._meta.db_table} b WHERE b.apitoken_id = t.id),
       u.id, u.{username}, u.is_active, u.is_staff, u.is_superuser
FROM {ApiToken._meta.db_table} t JOIN {user_model._meta.db_table} u ON u.id = t.user_id
WHERE t.prefix = %s"""  # noqa: S608 - no value is formatted in, only the models' names


def token_for_secret(secret: str) -> RequestToken | None:
    """Return the token of a token string, read in one statement, or None.

    None when the string is not one of ours, no token has its prefix, or the
    secret does not match. Revocation, expiry and the user being active are
    the caller's to check. A plain cursor reads it: through the ORM (a
    queryset, or raw() building the user) the read cost more than the rest of
    a release-gate check; `tests/api/test_token_read.py` holds it to the ORM's answer.
    """
    prefix = token_prefix_of(secret)
    if prefix is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_token_sql(), [prefix])
        row = cursor.fetchone()
    if row is None:
        return None
    (pk, key_hash, name, scopes, networks, expires_at, revoked_at, last_used_at, bound) = row[:9]
    user_id, username, user_active, user_staff, user_superuser = row[9:]
    if not token_hash_matches(key_hash, secret):
        return None
    return RequestToken(
        pk=pk,
        prefix=prefix,
        name=name,
        scopes=tuple(_json(scopes)),
        allowed_networks=tuple(_json(networks)),
        expires_at=stored_time(expires_at),
        revoked_at=stored_time(revoked_at),
        last_used_at=stored_time(last_used_at),
        bound=bool(bound),
        user_id=user_id,
        username=username,
        user_active=bool(user_active),
        user_staff=bool(user_staff),
        user_superuser=bool(user_superuser),
    )


def _json(value):
    """Decode a JSON column read outside its model field (a string, or already decoded)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


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
    if not isinstance(token, RequestToken) or not token.bound:
        return agents
    return agents.filter(pk__in=Binding.objects.filter(apitoken_id=token.pk).values("agent_id"))


def token_binds(token, agent_slug: str) -> bool:
    """Return whether the request's token may reach the agent of this slug by its binding.

    True for a token bound to no agent (and for a session); a bound token
    reaches only its agents. One query, and only for a bound token.
    """
    if not isinstance(token, RequestToken) or not token.bound:
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
