"""One user per username, whatever its case: "Dana" and "dana" name one person.

People type a username, read it in the audit trail and the evidence, and find it by
search without minding its case, so no username differs from another user's only in
case. Django's user table compares usernames as written; a unique index on their upper
case (identity 0003) holds the rule in the database. Every path that names or renames a
user checks it here first, to refuse with the username field's error; the index refuses
a save committed between that check and its own.

Both compare as the database upper-cases (`iexact` is `UPPER(a) = UPPER(b)` on
PostgreSQL), so the check and the index agree on every name.
"""

from django.contrib.auth import get_user_model

from config.errors import AlreadyExists


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
