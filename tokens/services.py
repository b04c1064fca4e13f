"""Writes on API tokens and idempotency records.

A token reads ``cs_<8 hex>_<secret>``. The ``cs_<8 hex>`` part is its prefix,
stored in clear to find the row; the whole string is stored only as an
HMAC-SHA256 keyed with the server-side pepper, so a copy of the database
alone cannot be used to call the API.
"""

import hashlib
import hmac
import ipaddress
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, InvalidTransition
from tokens.models import ApiToken, Scope

TOKEN_PREFIX = "cs_"  # noqa: S105 - a marker, not a secret
# last_used_at is written at most this often per token, to keep authentication cheap.
LAST_USED_RESOLUTION = timedelta(minutes=1)
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=366)
# A replay is honoured this long after the first answer.


def token_hash(secret: str) -> str:
    """Return the keyed hash stored for a token string."""
    pepper = settings.COUNTERSIGN["TOKEN_PEPPER"].encode()
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


def token_prefix_of(secret: str) -> str | None:
    """Return the prefix part of a token string, or None when it is not one of ours."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) < 12 or secret[11:12] != "_":
        return None
    return secret[:11]


def _networks_clean(networks) -> list[str]:
    cleaned, problems = [], []
    for value in networks or ():
        try:
            cleaned.append(str(ipaddress.ip_network(str(value).strip(), strict=False)))
        except ValueError:
            problems.append(f"{value!r} is not an IP network (e.g. 10.0.0.0/8).")
    if problems:
        raise InvalidInput(
            "Some allowed networks are invalid.", fields={"allowed_networks": problems}
        )
    return cleaned


def _scopes_clean(scopes) -> list[str]:
    scopes = list(dict.fromkeys(scopes or ()))
    unknown = [s for s in scopes if s not in Scope.values]
    if unknown or not scopes:
        message = (
            f"Unknown scopes: {', '.join(map(str, unknown))}."
            if unknown
            else "Give at least one scope."
        )
        raise InvalidInput(
            message, fields={"scopes": [message, f"Choose from {', '.join(Scope.values)}."]}
        )
    return scopes


def token_validate(
    *, user, name: str, scopes, expires_at: datetime | None, allowed_networks=()
) -> dict:
    """Return the cleaned token fields, or raise InvalidInput naming every bad one."""
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    if not name or not name.strip():
        errors["name"] = ["Name the token after what uses it."]
    expires_at = expires_at or now + DEFAULT_LIFETIME
    if expires_at <= now:
        errors["expires_at"] = ["Must be in the future."]
    elif expires_at > now + MAX_LIFETIME:
        errors["expires_at"] = [f"At most {MAX_LIFETIME.days} days from now."]
    if user is None or not user.is_active:
        errors["user"] = ["The user is inactive."]
    for field, clean, value in (
        ("scopes", _scopes_clean, scopes),
        ("allowed_networks", _networks_clean, allowed_networks),
    ):
        try:
            cleaned = clean(value)
        except InvalidInput as error:
            errors[field] = error.fields[field]
        else:
            if field == "scopes":
                scopes = cleaned
            else:
                allowed_networks = cleaned
    if errors:
        raise InvalidInput("The token cannot be created.", fields=errors)
    return {
        "user": user,
        "name": name.strip(),
        "scopes": scopes,
        "expires_at": expires_at,
        "allowed_networks": allowed_networks,
    }


@transaction.atomic
def service_account_get_or_create(*, actor: Actor, username: str):
    """Return the user, creating it without a password: it can only use tokens."""
    user, created = get_user_model().objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        audit_record(
            actor=actor,
            action="service_account.created",
            target=user,
            after={"username": username},
        )
    return user


@transaction.atomic
def token_create(
    *,
    actor: Actor,
    user,
    name: str,
    scopes,
    expires_at: datetime | None = None,
    allowed_networks=(),
) -> tuple[ApiToken, str]:
    """Create a token and return it with its secret, which is never available again."""
    fields = token_validate(
        user=user,
        name=name,
        scopes=scopes,
        expires_at=expires_at,
        allowed_networks=allowed_networks,
    )
    for _ in range(5):
        prefix = f"{TOKEN_PREFIX}{secrets.token_hex(4)}"
        secret = f"{prefix}_{secrets.token_urlsafe(32)}"
        try:
            with transaction.atomic():
                token = ApiToken.objects.create(
                    prefix=prefix, key_hash=token_hash(secret), **fields
                )
            break
        except IntegrityError:
            continue
    else:
        raise RuntimeError("Could not draw a unique token prefix.")
    audit_record(
        actor=actor,
        action="token.created",
        target=token,
        after={
            "prefix": token.prefix,
            "name": token.name,
            "user": user.get_username(),
            "scopes": token.scopes,
            "allowed_networks": token.allowed_networks,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    return token, secret


@transaction.atomic
def token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    """Revoke a token: from now on it authenticates nothing."""
    token = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
    if token.revoked_at is not None:
        raise InvalidTransition("The token is already revoked.", code="already_revoked")
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(
        actor=actor,
        action="token.revoked",
        target=token,
        before={"revoked_at": None},
        after={"prefix": token.prefix, "name": token.name, "revoked_at": token.revoked_at},
    )
    return token


def token_touch(*, token: ApiToken, now: datetime | None = None) -> None:
    """Record that the token was used, at most once per LAST_USED_RESOLUTION."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now


def network_allowed(token: ApiToken, remote_addr: str | None) -> bool:
    """Return whether the client address is inside one of the token's allowed networks."""
    if not token.allowed_networks:
        return True
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    for network in token.allowed_networks:
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False
