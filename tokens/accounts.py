"""The accounts no person signs in to: service accounts, which only use tokens, and the
system's own account, which names who did what the system itself does.

The system names its own account `config.usernames.SYSTEM_USERNAME` and creates it when it
first writes something (`system_account_get_or_create`): inactive, without
a usable password, neither staff nor superuser, in no group, holding no permission, and
nothing the system does gives it any of these; it never signs in and holds no token. An
account of that name with any of them is a person's or a service's: one created under the
name before the name was reserved, or one given sign-in or rights since. The system does
not write as such an account (the service refuses), and `manage.py check --database
default` warns of it (identity.W003).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.contrib.auth.models import Group, Permission
from django.db import IntegrityError, transaction
from django.db.models import CharField, Exists, OuterRef, QuerySet
from django.db.models.functions import Cast

from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_record
from config.errors import AlreadyExists
from config.usernames import (
    SYSTEM_USERNAME,
    username_check,
    username_refusal,
    username_reserved,
    username_reserved_refusal,
)
from tokens.models import ApiToken

# Each sign of an account that is not the system's own, read from a user annotated as
# `system_account_holders` annotates it.
NOT_THE_SYSTEMS = (
    ("it is active", lambda user: user.is_active),
    ("it has a usable password", lambda user: user.has_usable_password()),
    ("it is staff", lambda user: user.is_staff),
    ("it is a superuser", lambda user: user.is_superuser),
    ("it has signed in", lambda user: user.last_login is not None),
    ("it is in a group", lambda user: user.in_a_group),
    ("it holds permissions of its own", lambda user: user.holds_permissions),
    ("it holds API tokens", lambda user: user.holds_tokens),
)


def system_account_holders(*, using: str | None = None) -> list[tuple[object, list[str]]]:
    """Return each account holding the system's name, in any case, that is not the system's
    own, with what makes it another's (in one query).

    An account holding the name in another case is never the system's: the system looks
    its account up by the name as written.
    """
    holders = (
        get_user_model()
        .objects.db_manager(using)
        .filter(username__iexact=SYSTEM_USERNAME)
        .annotate(
            in_a_group=Exists(Group.objects.filter(user=OuterRef("pk"))),
            holds_permissions=Exists(Permission.objects.filter(user=OuterRef("pk"))),
            holds_tokens=Exists(ApiToken.objects.filter(user=OuterRef("pk"))),
        )
        .order_by("pk")
    )
    found = []
    for user in holders:
        if user.get_username() != SYSTEM_USERNAME:
            problems = [f"it holds the system's name in another case, as {user.get_username()!r}"]
        else:
            problems = [problem for problem, shows in NOT_THE_SYSTEMS if shows(user)]
        if problems:
            found.append((user, problems))
    return found


def system_account_holder_message(user, problems: list[str]) -> str:
    """Return the sentence naming an account that holds the system's name and what makes it
    another's."""
    return (
        f"The account {user.get_username()!r} (user id {user.pk}) holds the name of "
        f"Countersign's own account but is not it: {'; '.join(problems)}."
    )


# What to do, said by the refusal and the check alike.
SYSTEM_ACCOUNT_REMEDY = (
    "Rename that account in the admin (Users) to its holder's own name; the system then "
    "creates its own account when it next writes something."
)


def system_account_holder_refusal(user, problems: list[str]) -> AlreadyExists:
    """Return the refusal to write as an account that holds the system's name but is not
    the system's own."""
    return AlreadyExists(
        f"{system_account_holder_message(user, problems)} The system does not write as it. "
        f"{SYSTEM_ACCOUNT_REMEDY}",
        code="system_account_held",
    )


SERVICE_ACCOUNT_CREATED = "service_account.created"


def service_accounts() -> QuerySet:
    """Return the service accounts: the users service_account_get_or_create made, still
    without a password.

    Having no usable password does not tell one: single sign-on creates its people
    without one, and staff may turn a person's password sign-in off. The account's
    creation event does, and a password set on it since lets someone sign in as it.
    """
    made = AuditEvent.objects.filter(
        action=SERVICE_ACCOUNT_CREATED,
        target_type=get_user_model()._meta.label_lower,
        target_id=Cast(OuterRef("pk"), CharField()),
    )
    return get_user_model().objects.filter(
        Exists(made), password__startswith=UNUSABLE_PASSWORD_PREFIX
    )


@transaction.atomic
def service_account_get_or_create(*, actor: Actor, username: str, is_active: bool = True):
    """Return the user, creating it without a password: it can only use tokens.

    A name another user holds in another case is that user's, and a name of the system's
    own accounts is the system's (system_account_get_or_create): both are refused, naming
    the field (config.usernames).
    """
    if username_reserved(username):
        raise username_reserved_refusal(username)
    return _account_get_or_create(actor=actor, username=username, is_active=is_active)


@transaction.atomic
def system_account_get_or_create(*, actor: Actor):
    """Return the system's own account (config.usernames.SYSTEM_USERNAME), creating it.

    It is inactive, so it cannot sign in or use tokens; it only names who did what the
    system itself does. Nobody else takes its name, in any case. An account holding the
    name that is not the system's own (system_account_holders) is refused (AlreadyExists,
    code `system_account_held`): what the system writes is never credited to a person.
    """
    held = system_account_holders()
    if held:
        raise system_account_holder_refusal(*held[0])
    return _account_get_or_create(actor=actor, username=SYSTEM_USERNAME, is_active=False)


def _account_get_or_create(*, actor: Actor, username: str, is_active: bool):
    """Return the user of the username as written, creating it without a password."""
    model = get_user_model()
    user = model.objects.filter(username=username).first()
    if user is not None:
        return user
    username_check(username)
    try:
        user, created = model.objects.get_or_create(
            username=username, defaults={"is_active": is_active}
        )
    except IntegrityError:
        # The unique index on the names' upper case made the insert wait for another
        # user's save of the name in another case, committed after the check.
        raise username_refusal(username) from None
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        audit_record(
            actor=actor,
            action=SERVICE_ACCOUNT_CREATED,
            target=user,
            after={"username": username, "is_active": is_active},
        )
    return user
