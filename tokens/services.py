"""Writes on API tokens (the accounts they may belong to: tokens.accounts).

A token reads ``cs_<8 hex>_<secret>``. The ``cs_<8 hex>`` part is its prefix,
stored in clear to find the row; the whole string is stored only as an
HMAC-SHA256 keyed with the server-side pepper, so a copy of the database
alone cannot be used to call the API.
"""

import hashlib
import hmac
import ipaddress
import re
import secrets
from dataclasses import replace
from datetime import datetime, timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_record
from config.errors import InvalidInput, InvalidTransition, NotPermitted
from config.roles import scopes_granted
from outbox.models import Reminder
from outbox.services import notify
from tokens.accounts import service_accounts
from tokens.models import ApiToken, Scope
from tokens.prefix import PREFIX_PATTERN, PREFIX_RANDOM_BYTES, TOKEN_PREFIX

_TOKEN_START = re.compile(rf"({PREFIX_PATTERN})_")
# last_used_at is written at most this often per token, to keep authentication cheap.
LAST_USED_RESOLUTION = timedelta(minutes=1)
DEFAULT_LIFETIME = timedelta(days=90)
MAX_LIFETIME = timedelta(days=366)
# A replay is honoured this long after the first answer.


def token_hash(secret: str, pepper: str | None = None) -> str:
    """Return the keyed hash stored for a token string: under TOKEN_PEPPER unless one is given."""
    key = (settings.COUNTERSIGN["TOKEN_PEPPER"] if pepper is None else pepper).encode()
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def token_hash_matches(key_hash: str, secret: str) -> bool:
    """Return whether a stored hash is the token string's, under TOKEN_PEPPER or a fallback.

    While TOKEN_PEPPER_FALLBACKS lists the peppers TOKEN_PEPPER replaced, the tokens
    stored under them keep working until they expire. The current pepper is tried
    first: a token made since the rotation costs one hash, as it does with no fallback,
    and none costs another read of the database.
    """
    fallbacks = settings.COUNTERSIGN["TOKEN_PEPPER_FALLBACKS"]
    return any(
        hmac.compare_digest(key_hash, token_hash(secret, pepper)) for pepper in (None, *fallbacks)
    )


def token_prefix_of(secret: str) -> str | None:
    """Return the prefix part of a token string, or None when it is not one of ours."""
    match = _TOKEN_START.match(secret)
    return match.group(1) if match else None


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


def _scopes_clean(scopes, user) -> list[str]:
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
    granted = scopes_granted(user)
    refused = [s for s in scopes if s not in granted]
    if refused:
        message = (
            f"The user's role does not grant {', '.join(refused)}: a token carries at most "
            f"what its user may do ({', '.join(granted) or 'nothing'})."
        )
        raise InvalidInput(message, fields={"scopes": [message]})
    return scopes


# As many agents as one token is bound to when it is made (the API's and the page's limit).
MAX_BOUND_AGENTS = 100


def not_bindable_message(slugs) -> str:
    """Return the refusal of binding a token to these agents (unknown or not the user's alike)."""
    return f"Bind a token only to agents its user owns; not {', '.join(sorted(slugs))}."


def agents_bindable(user):
    """Return the agents a user may bind a token of theirs to: those they own; staff, any.

    The agents app sits beside this one and is not imported: its model is
    reached through the app registry and the owners' relation.
    """
    if user.is_staff:
        return apps.get_model("agents", "Agent").objects.all()
    return user.owned_agents.all()


def _agents_clean(agents, user, actor: Actor | None) -> list:
    """Return the agents to bind, refusing those the token's user may not bind it to.

    Those are the agents_bindable ones, or any agent when an administrator
    (the admin, manage.py) creates the token: that is how a pipeline's or
    runtime's service account is tied to its agent.
    """
    agents = list({agent.pk: agent for agent in agents or ()}.values())
    if not agents or user is None:
        return agents
    if actor is not None and (actor.is_system or (actor.user is not None and actor.user.is_staff)):
        return agents
    pks = [agent.pk for agent in agents]
    bindable = set(agents_bindable(user).filter(pk__in=pks).values_list("pk", flat=True))
    foreign = sorted(agent.slug for agent in agents if agent.pk not in bindable)
    if foreign:
        message = not_bindable_message(foreign)
        raise InvalidInput(message, fields={"agents": [message]})
    return agents


def token_users(*, actor: Actor) -> QuerySet:
    """Return the users `actor` may create tokens for.

    A token acts as its user, so a person's token is made by that person alone. Staff
    also make the tokens of service accounts, as no person acts through those; the
    system (manage.py token, run on the server by an operator) makes anyone's.
    """
    users = get_user_model().objects.all()
    if actor.is_system:
        return users
    if actor.user is None:
        return users.none()
    own = Q(pk=actor.user.pk)
    if actor.user.is_staff:
        return users.filter(own | Q(pk__in=service_accounts().values("pk")))
    return users.filter(own)


def _user_refusal(user, actor: Actor) -> str | None:
    """Return why `actor` may not create a token for `user`, or None when they may."""
    if token_users(actor=actor).filter(pk=user.pk).exists():
        return None
    name = user.get_username()
    if actor.user is not None and actor.user.is_staff:
        return (
            "Staff create tokens only for themselves and for service accounts; "
            f"{name} creates their own on the API tokens page."
        )
    return f"A token for {name} is created by {name}, on the API tokens page."


def token_validate(
    *,
    actor: Actor,
    user,
    name: str,
    scopes,
    expires_at: datetime | None,
    allowed_networks=(),
    agents=(),
) -> dict:
    """Return the cleaned token fields, or raise InvalidInput naming every bad one.

    `agents` are Agent objects to bind the token to; `actor` is who creates it, for a
    user of token_users(actor=actor).
    """
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    if not name or not name.strip():
        errors["name"] = ["Name the token after what uses it."]
    expires_at = expires_at or now + DEFAULT_LIFETIME
    if expires_at <= now:
        errors["expires_at"] = ["Must be in the future."]
    elif expires_at > now + MAX_LIFETIME:
        errors["expires_at"] = [f"At most {MAX_LIFETIME.days} days from now."]
    refusal = user is not None and _user_refusal(user, actor)
    if refusal:
        errors["user"] = [refusal]
    elif user is None or not user.is_active:
        errors["user"] = ["The user is inactive."]
    cleaned = {}
    for field, clean in (
        ("scopes", lambda: _scopes_clean(scopes, user)),
        ("allowed_networks", lambda: _networks_clean(allowed_networks)),
        ("agents", lambda: _agents_clean(agents, user, actor)),
    ):
        try:
            cleaned[field] = clean()
        except InvalidInput as error:
            errors[field] = error.fields[field]
    if errors:
        raise InvalidInput("The token cannot be created.", fields=errors)
    return {
        "user": user,
        "name": name.strip(),
        "scopes": cleaned["scopes"],
        "expires_at": expires_at,
        "allowed_networks": cleaned["allowed_networks"],
        "agents": cleaned["agents"],
    }


@transaction.atomic
def token_create(
    *,
    actor: Actor,
    user,
    name: str,
    scopes,
    expires_at: datetime | None = None,
    allowed_networks=(),
    agents=(),
) -> tuple[ApiToken, str]:
    """Create a token (bound to `agents`, if any) and return it with its secret.

    The secret is never available again. The user is one the actor may create tokens
    for (token_users), the token's scopes are capped by its user's role and its agents
    by what the user may bind (see token_validate).
    """
    actor.require_fresh_authentication()
    if user is not None:
        # The user's row, locked as agents.membership.user_lock locks it (agents imports
        # this app): a deactivation locks it before the user's tokens (user_tokens_lock),
        # so a token made meanwhile is among those it locks, or is made once it committed
        # and refused here. The actor's staff status lets them make a service account's
        # token and bind it to any agent: their row is locked with it, in id order as
        # agents.membership.users_lock locks them, and read as the last change left it.
        people = {person.pk: person for person in (user, actor.user) if person is not None}
        locked = {
            pk: get_user_model().objects.select_for_update(no_key=True).get(pk=pk)
            for pk in sorted(people)
        }
        user = locked[user.pk]
        if actor.user is not None:
            actor = replace(actor, user=locked[actor.user.pk])
    fields = token_validate(
        user=user,
        name=name,
        scopes=scopes,
        expires_at=expires_at,
        allowed_networks=allowed_networks,
        agents=agents,
        actor=actor,
    )
    agents = fields.pop("agents")
    for _ in range(5):
        prefix = f"{TOKEN_PREFIX}{secrets.token_hex(PREFIX_RANDOM_BYTES)}"
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
    if agents:
        token.agents.add(*agents)
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
            "agents": sorted(agent.slug for agent in agents),
            "expires_at": token.expires_at.isoformat(),
        },
    )
    return token, secret


def _may_revoke(person, token: ApiToken) -> bool:
    """Tell whether a person (their row locked) may revoke the token: its user, or staff."""
    if person is None:
        return False
    return person.pk == token.user_id or (person.is_active and person.is_staff)


@transaction.atomic
def token_revoke(*, actor: Actor, token: ApiToken) -> ApiToken:
    """Revoke a token: from now on it authenticates nothing.

    Its own user, staff and the system revoke it.
    """
    # The actor's row, as agents.membership.actor_user_lock locks it (agents imports this
    # app), so their staff status is read as the last change left it; then the token's row,
    # as a withdrawal of rights locks a user's row before their tokens' (approvals.locks).
    # Neither lock changes a key: the key check at the commit of a write naming the user,
    # which holds the audit chain's lock this revocation waits for, does not wait for them.
    person = None
    if not actor.is_system and actor.user is not None:
        person = get_user_model().objects.select_for_update(no_key=True).get(pk=actor.user.pk)
    token = (
        ApiToken.objects.select_for_update(no_key=True, of=("self",))
        .select_related("user")
        .get(pk=token.pk)
    )
    if not actor.is_system and not _may_revoke(person, token):
        raise NotPermitted(
            f"Token {token.prefix} is revoked by its user, {token.user.get_username()}, or by "
            "staff.",
            code="not_token_user",
        )
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


def user_tokens_lock(user) -> None:
    """Lock the rows of the user's tokens, in id order, until the commit.

    A withdrawal of the user's rights (a deactivation, a group left, staff or superuser
    status taken away) takes it after the user's row and before its first event, as a
    revocation locks its token's row: a write made with one of the tokens holds that
    row from just before its first event to its commit (tokens.authentication.
    token_confirm), so either the write commits first, its events before the
    withdrawal's, or its check waits for the withdrawal's commit, reads it, and
    refuses the write. Meanwhile `token_touch` waits as it does for a write's commit.

    The caller holds the user's row (agents.membership.user_lock), under which no token
    of theirs is made (token_create): the ids read first are all their tokens. The rows
    are locked by id, so a second call in one transaction (the admin's save takes it
    before a rename's event, user_flags_set or user_groups_change again after it) names
    rows it holds.
    """
    ids = list(user.api_tokens.order_by("pk").values_list("pk", flat=True))
    if ids:
        list(
            ApiToken.objects.select_for_update(no_key=True)
            .filter(pk__in=ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def token_touch(*, token, now: datetime | None = None) -> None:
    """Record that the token (as authentication read it) was used, once per LAST_USED_RESOLUTION."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)


def network_allowed(token, remote_addr: str | None) -> bool:
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


# A token's user (staff, for an account without an address) is told this long before
# it expires: a pipeline's gate check or a runtime's enforcement point using it is
# refused from that moment, and every call the enforcement point asks about is denied.
EXPIRY_WARNING = timedelta(days=14)
EXPIRY_WARNED = "token.expiry_warned"
EXPIRY_WARNING_KEY = "token-expiring:"


def tokens_warn_expiring(*, actor: Actor, now: datetime | None = None) -> list[str]:
    """Tell the users of tokens expiring within EXPIRY_WARNING, once per token; return prefixes.

    Revoked tokens and those of inactive users are left out. Each warning is a
    notification (mail and webhooks, `token.expiring`) and an audit event.
    """
    now = now or timezone.now()
    warned = Reminder.objects.filter(
        key=Concat(Value(EXPIRY_WARNING_KEY), Cast(OuterRef("pk"), CharField()))
    )
    expiring = (
        ApiToken.objects.filter(
            revoked_at__isnull=True,
            user__is_active=True,
            expires_at__gt=now,
            expires_at__lte=now + EXPIRY_WARNING,
        )
        .exclude(Exists(warned))
        .select_related("user")
        .prefetch_related("agents")
        .order_by("expires_at", "pk")
    )
    done = []
    for token in expiring:
        try:
            with transaction.atomic():
                Reminder.objects.create(key=f"{EXPIRY_WARNING_KEY}{token.pk}")
                _expiry_warn(actor, token)
        except IntegrityError:
            continue  # warned by a run at the same time
        done.append(token.prefix)
    return done


def _expiry_warn(actor: Actor, token: ApiToken) -> None:
    user = token.user
    recipients = [user.email] if user.email else []
    if not recipients:
        staff = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="")
        recipients = sorted(staff.values_list("email", flat=True))
    facts = {
        "prefix": token.prefix,
        "name": token.name,
        "user": user.get_username(),
        "agents": sorted(agent.slug for agent in token.agents.all()),
        "expires_at": token.expires_at.isoformat(),
    }
    audit_record(actor=actor, action=EXPIRY_WARNED, target=token, data=facts)
    agents = ", ".join(facts["agents"])
    notify("token.expiring", data={**facts, "agents": agents, "recipients": recipients})
