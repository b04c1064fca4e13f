"""One user per username, whatever its case: "Dana" and "dana" name one person.

People type a username, read it in the audit trail and the evidence, and find it by
search without minding its case, so no username differs from another user's only in
case. Django's user table compares usernames as written; a unique index on their upper
case (identity 0003) holds the rule in the database. Every path that names or renames a
user checks it here first, to refuse with the username field's error; the index refuses
a save committed between that check and its own.

Both compare as the database upper-cases (`iexact` is `UPPER(a) = UPPER(b)` on
PostgreSQL), so the check and the index agree on every name. For the same reason a
username a person or a command types names the user holding it in any case
(`user_named`): "Dana" can only be dana.

The system creates its own accounts by name when it first needs them, so those names
(`RESERVED_USERNAMES`) are never a person's, in any case: a person holding one would
either be taken for the system or stop it from creating its account.
"""

from django.contrib.auth import get_user_model
from django.db.models import Value

from config.errors import AlreadyExists, InvalidInput

# The inactive account named as the creator of what the system itself writes (a
# re-certification's package).
SYSTEM_USERNAME = "countersign-system"
RESERVED_USERNAMES = frozenset({SYSTEM_USERNAME})


def username_taken_message() -> str:
    """Return the username field's error for a name another user holds: Django's words."""
    model = get_user_model()
    return str(model._meta.get_field(model.USERNAME_FIELD).error_messages["unique"])


def username_taken(username: str, *, other_than=None) -> bool:
    """Tell whether a user other than `other_than` holds the username, in any case.

    The name is compared in the NFKC form Django stores usernames in (create_user, the
    forms' username field), so a full-width "ＤＡＮＡ" is "DANA" here as it will be saved.
    """
    model = get_user_model()
    username = model.normalize_username(username)
    users = model.objects.filter(**{f"{model.USERNAME_FIELD}__iexact": username})
    if other_than is not None and other_than.pk is not None:
        users = users.exclude(pk=other_than.pk)
    return users.exists()


def username_refusal(username: str) -> AlreadyExists:
    """Return the refusal of a username another user holds, naming the field."""
    return AlreadyExists(
        f"The username {username!r} is another user's.",
        fields={"username": [username_taken_message()]},
    )


def username_check(username: str, *, other_than=None) -> None:
    """Refuse (AlreadyExists) a username a user other than `other_than` holds, in any case."""
    if username_taken(username, other_than=other_than):
        raise username_refusal(username)


def user_named(username: str, *, using: str | None = None):
    """Return the user a person or a command names by this username, in any case, or None.

    The name is read in its stored NFKC form and matched as the unique index compares, so
    at most one user answers.
    """
    model = get_user_model()
    username = model.normalize_username(username)
    users = model.objects.db_manager(using)
    return users.filter(**{f"{model.USERNAME_FIELD}__iexact": username}).first()


def users_named(usernames) -> dict:
    """Return {username: the user it names in any case, or None} for these names, in one
    query.

    Each name keeps its own lookup, as in `user_named`, so the database alone says which
    user a name names; the lookups travel as one UNION ALL.
    """
    model = get_user_model()
    names = list(dict.fromkeys(usernames))
    if not names:
        return {}
    field = f"{model.USERNAME_FIELD}__iexact"
    lookups = [
        model.objects.filter(**{field: model.normalize_username(name)}).annotate(
            named_as=Value(index)
        )
        for index, name in enumerate(names)
    ]
    found = {user.named_as: user for user in lookups[0].union(*lookups[1:], all=True)}
    return {name: found.get(index) for index, name in enumerate(names)}


def username_reserved(username: str) -> bool:
    """Tell whether the username is one of the system's own (RESERVED_USERNAMES), in any case.

    Compared in Python on the NFKC form: Python's upper case maps onto these ASCII names
    every letter the database's does, so no name the index takes for one of them passes.
    """
    upper = get_user_model().normalize_username(username).upper()
    return any(upper == name.upper() for name in RESERVED_USERNAMES)


def username_reserved_message(username: str) -> str:
    """Return the username field's error for a name of the system's own."""
    return f"{username!r} is the name of one of Countersign's own accounts, never a person's."


def username_reserved_refusal(username: str, message: str = "") -> InvalidInput:
    """Return the refusal of a name of the system's own, naming the field."""
    problem = username_reserved_message(username)
    return InvalidInput(
        message or problem, code="reserved_username", fields={"username": [problem]}
    )


def _reserved_for(username: str, user) -> bool:
    """Tell whether `user` may not take the username: one of the system's own it does not
    hold exactly (its own account keeps its name; any other case of it is another name)."""
    if not username_reserved(username):
        return False
    held = user.get_username() if user is not None and user.pk is not None else None
    return held != get_user_model().normalize_username(username)


def person_username_problem(username: str, *, other_than=None) -> str | None:
    """Return the username field's error for a name `other_than` (None: a new user) is to
    take, or None when it is free.

    Nobody takes a name of the system's own, nor one another user holds in any case.
    """
    if _reserved_for(username, other_than):
        return username_reserved_message(username)
    if username_taken(username, other_than=other_than):
        return username_taken_message()
    return None


def person_username_check(username: str, *, other_than=None) -> None:
    """Refuse a name `other_than` is to take: a name of the system's own, or another user's."""
    if _reserved_for(username, other_than):
        raise username_reserved_refusal(username)
    username_check(username, other_than=other_than)
