"""Reads on API tokens."""

import hmac

from tokens.models import ApiToken
from tokens.services import token_hash, token_prefix_of


def token_for_secret(secret: str) -> ApiToken | None:
    """Return the token (with its user) whose secret this is, in one query, or None."""
    prefix = token_prefix_of(secret)
    if prefix is None:
        return None
    try:
        token = ApiToken.objects.select_related("user").get(prefix=prefix)
    except ApiToken.DoesNotExist:
        return None
    if not hmac.compare_digest(token.key_hash, token_hash(secret)):
        return None
    return token


def tokens_list(*, user=None, include_revoked: bool = True):
    """Return the tokens, newest first, optionally of one user only."""
    tokens = ApiToken.objects.select_related("user").order_by("-created_at")
    if user is not None:
        tokens = tokens.filter(user=user)
    if not include_revoked:
        tokens = tokens.filter(revoked_at__isnull=True)
    return tokens
