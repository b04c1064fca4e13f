"""What makes an account holding the system's name the system's own, and the accounts that
hold it without being so.

The system names its own account `config.usernames.SYSTEM_USERNAME` and creates it when it
first writes something (`tokens.services.system_account_get_or_create`): inactive, without
a usable password, neither staff nor superuser, in no group, holding no permission, and
nothing the system does gives it any of these; it never signs in and holds no token. An
account of that name with any of them is a person's or a service's: one created under the
name before the name was reserved, or one given sign-in or rights since. The system does
not write as such an account (the service refuses), and `manage.py check --database
default` warns of it (identity.W003).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models import Exists, OuterRef

from config.errors import AlreadyExists
from config.usernames import SYSTEM_USERNAME
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
