"""Writes on users' rights and provider accounts; each change is an audit event.

`user_groups_set` and `user_teams_set` apply what the identity provider says of a
user's role groups and teams, through agents.membership (which records every
change of them), leaving alone what the provider's mapping does not manage.
"""

from datetime import timedelta

from axes.models import AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.membership import (
    Source,
    staff_users_lock,
    user_flags_set,
    user_groups_change,
    user_lock,
    users_lock,
)
from agents.membership import user_teams_set as membership_teams_set
from agents.models import Team
from audit.actors import Actor
from audit.services import audit_prune_record, audit_record
from config.errors import AlreadyExists, NotPermitted
from config.roles import Group
from config.usernames import (
    person_username_check,
    username_refusal,
    username_reserved,
    username_reserved_refusal,
    username_taken,
    username_taken_message,
)
from identity.mapping import GroupMap, Rights
from identity.models import ProviderIdentity
from tokens.services import user_tokens_lock
from tokens.sessions import BrowserSession


@transaction.atomic
def user_groups_set(user, groups, *, actor: Actor, source: str, staff: bool | None = None):
    """Make the user's role groups exactly `groups` (and staff `staff`, unless None).

    Groups outside config/roles.py are left alone. The groups change through
    agents.membership, as every other change of them does, and so does staff
    (`user.staff_changed`).
    """
    wanted = set(groups)
    unknown = wanted - set(Group.values)
    if unknown:
        raise ValueError(f"Not role groups: {sorted(unknown)}")
    # What is replaced is read as a change of the user at the same moment left it; a person
    # acting is locked with them, in the order the membership services lock them.
    user = users_lock([user], actor=actor)[user.pk]
    held = set(user.groups.filter(name__in=Group.values).values_list("name", flat=True))
    if staff is False and user.is_staff:
        # Before the groups' event, as user_flags_set locks them before its own: a write of
        # one of the user's tokens commits first or is refused.
        user_tokens_lock(user)
    user_groups_change(user, actor=actor, source=source, add=wanted - held, remove=held - wanted)
    if staff is not None:
        user = user_flags_set(user, actor=actor, source=source, is_staff=staff)
    return user


@transaction.atomic
def user_teams_set(user, teams, *, actor: Actor, source: str, managed=None) -> None:
    """Make the user a member of exactly the teams of `teams` among `managed` (slugs).

    `managed` None means every team. A slug naming no team is skipped: staff
    create teams. Teams outside `managed` are left alone.
    """
    # Teams outside `managed` are kept as a change of the user at the same moment left them.
    user = users_lock([user], actor=actor)[user.pk]
    held = set(user.teams.values_list("slug", flat=True))
    scope = Team.objects.all() if managed is None else Team.objects.filter(slug__in=managed)
    in_scope = set(scope.values_list("slug", flat=True))
    wanted = set(scope.filter(slug__in=teams).values_list("slug", flat=True))
    membership_teams_set(user, (held - in_scope) | wanted, actor=actor, source=source)


def user_created_record(user, *, actor: Actor, source: str, **data) -> None:
    """Record a new account (created by Django's forms or its manager) with its source."""
    audit_record(
        actor=actor,
        action="user.created",
        target=user,
        after={"username": user.get_username(), "email": user.email},
        data={**data, "source": str(source)},
    )


@transaction.atomic
def user_email_set(user, email: str, *, actor: Actor, source: str):
    """Change the user's email address: notifications go there, so the change is recorded."""
    user = staff_users_lock(
        [user], actor=actor, refusal="Only staff change people's email addresses."
    )[user.pk]
    return _user_fields_set(user, "user.email_changed", {"email": email}, actor, source)


# The names a person is known by in the audit trail, the evidence and the pages.
NAME_FIELDS = ("username", "first_name", "last_name")


@transaction.atomic
def user_names_set(user, *, actor: Actor, source: str, **names):
    """Change the user's username or full name: the trail and the evidence name people by
    them, so a rename is recorded with what it was before.

    A username another user holds, in any case, or one of the system's own is refused
    naming the field (config.usernames).
    """
    unknown = set(names) - set(NAME_FIELDS)
    if unknown:
        raise ValueError(f"Not name fields: {sorted(unknown)}")
    user = staff_users_lock([user], actor=actor, refusal="Only staff rename people.")[user.pk]
    if "username" not in names:
        return _user_fields_set(user, "user.renamed", names, actor, source)
    # Stored in the NFKC form, as Django's forms and create_user store it, and compared so.
    username = names["username"] = get_user_model().normalize_username(names["username"])
    person_username_check(username, other_than=user)
    try:
        with transaction.atomic():
            return _user_fields_set(user, "user.renamed", names, actor, source)
    except IntegrityError:
        # The unique index made the write wait for a save of the name committed after the
        # check: the name is that user's now.
        raise username_refusal(username) from None


def _user_fields_set(user, action: str, wanted: dict, actor: Actor, source: str):
    """Set the fields of `wanted` that differ, as one event naming them before and after;
    the caller holds the user's row (`agents.membership.staff_users_lock`)."""
    before = {field: getattr(user, field) for field, value in wanted.items()}
    changed = [field for field, value in wanted.items() if before[field] != value]
    if not changed:
        return user
    for field in changed:
        setattr(user, field, wanted[field])
    user.save(update_fields=changed)
    audit_record(
        actor=actor,
        action=action,
        target=user,
        before={field: before[field] for field in changed},
        after={field: wanted[field] for field in changed},
        data={"user": user.get_username(), "source": source},
    )
    return user


@transaction.atomic
def user_password_set(user, password: str | None, *, actor: Actor, source: str):
    """Set the user's password, or with None refuse them password sign-in.

    Whoever sets a password can sign in as the user, so the change is recorded: the
    actor, the user and whether password sign-in stays open, never the password or its hash.
    Staff (the admin) and the system (manage.py changepassword) set passwords; the product
    offers a person no page to set their own.
    """
    user = staff_users_lock([user], actor=actor, refusal="Only staff set people's passwords.")[
        user.pk
    ]
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(
        actor=actor,
        action="user.password_set",
        target=user,
        after={"usable_password": password is not None},
        data={"user": user.get_username(), "source": source},
    )
    return user


def user_rights_apply(user, rights: Rights, mapping: GroupMap, *, actor: Actor, source: str):
    """Give the user what the mapping grants, and take away what it no longer does."""
    user = user_groups_set(user, rights.groups, actor=actor, source=source, staff=rights.staff)
    user_teams_set(user, rights.teams, actor=actor, source=source, managed=mapping.teams)
    return user


@transaction.atomic
def provider_user_sign_in(
    *, issuer: str, subject: str, username: str, email: str, rights: Rights, mapping: GroupMap
):
    """Return the user of a provider account, created on its first sign-in, its rights renewed.

    An account of the same username (a local one, or another provider account's) is
    never taken over: the sign-in is refused, also when that account is created
    meanwhile. Two first sign-ins of one provider account at once sign in one user.
    An account deactivated here stays refused.
    """
    actor = Actor.system("single sign-on")
    link = _provider_link(issuer, subject) or _provider_user_create(
        issuer=issuer, subject=subject, username=username, email=email, actor=actor
    )
    # Its row as the last change left it (a deactivation committed meanwhile is seen), locked
    # without changing its key: a write naming the user commits meanwhile.
    user = user_lock(link.user)
    if not user.is_active:
        raise NotPermitted("This account is deactivated.", code="inactive")
    if email and user.email != email:
        user = user_email_set(user, email, actor=actor, source=Source.OIDC)
    link.last_sign_in_at = timezone.now()
    link.save(update_fields=["last_sign_in_at"])
    return user_rights_apply(user, rights, mapping, actor=actor, source=Source.OIDC)


def _provider_link(issuer: str, subject: str) -> ProviderIdentity | None:
    """Return the provider account's link with its user, locked; None before its first sign-in."""
    return (
        ProviderIdentity.objects.select_for_update(no_key=True, of=("self",))
        .select_related("user")
        .filter(issuer=issuer, subject=subject)
        .first()
    )


def _provider_user_create(*, issuer: str, subject: str, username: str, email: str, actor: Actor):
    """Create the user of a provider account's first sign-in and its link; return the link.

    The username, or the link, can be held by another first sign-in of the same account
    that committed after this one looked for its link: that sign-in's link is returned, so
    both sign in as the one user it created. Any other holder of the username refuses it,
    and so does the system, for a name of its own accounts (config.usernames).
    """
    model = get_user_model()
    # create_user stores the NFKC form of the name: the check compares that form.
    username = model.normalize_username(username)
    if username_reserved(username):
        raise username_reserved_refusal(
            username,
            f"The username {username!r} is the name of one of Countersign's own accounts; "
            "the identity provider must name this account otherwise.",
        )
    if not username_taken(username):
        try:
            with transaction.atomic():
                user = model.objects.create_user(username=username, email=email)
                link = ProviderIdentity.objects.create(user=user, issuer=issuer, subject=subject)
        except IntegrityError:
            # A unique index made the insert wait for the transaction holding the value,
            # so whoever holds it has committed and the look-up below sees it.
            pass
        else:
            user_created_record(
                user, actor=actor, source=Source.OIDC, issuer=issuer, subject=subject
            )
            return link
    link = _provider_link(issuer, subject)
    if link is None:
        raise AlreadyExists(
            f"The username {username!r} belongs to another account; "
            "an administrator links or renames it.",
            fields={"username": [username_taken_message()]},
        )
    return link


# The event of a prune that deleted sign-in records.
SIGN_INS_PRUNED = "sign_ins.pruned"


@transaction.atomic
def sign_ins_prune(*, actor: Actor, now=None) -> dict:
    """Delete expired sessions and sign-in logs past SIGN_IN_LOG_DAYS; return how many of each.

    An expired session is never read again (Django refuses it), yet its row stays
    until something deletes it. django-axes keeps a row per sign-in (and, where
    enabled, per failure) for ever; the lockout reads only its attempts, which it
    clears itself. The logs are the sign-in history security may ask for, so a
    prune that deletes some is an audit event; one that deletes none records nothing.
    """
    now = now or timezone.now()
    days = settings.COUNTERSIGN["SIGN_IN_LOG_DAYS"]
    older_than = now - timedelta(days=days)
    # Sessions live in the database (SESSION_ENGINE, tokens.sessions).
    sessions, _ = BrowserSession.objects.filter(expire_date__lt=now).delete()
    logs, _ = AccessLog.objects.filter(attempt_time__lt=older_than).delete()
    failures, _ = AccessFailureLog.objects.filter(attempt_time__lt=older_than).delete()
    pruned = {"sessions": sessions, "sign_in_logs": logs + failures}
    if logs or failures:
        audit_prune_record(
            actor=actor,
            action=SIGN_INS_PRUNED,
            deleted=pruned,
            older_than=older_than,
            days_kept=days,
        )
    return pruned
