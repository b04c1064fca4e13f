"""Make usernames unique whatever their case (config.usernames): a unique index on their
upper case.

The user model is Django's, so the index is no constraint of its state: it is built and
dropped here, by the schema editor, as one of its constraints would be.
"""

from collections import defaultdict

from django.conf import settings
from django.core.management.base import CommandError
from django.db import migrations, models
from django.db.models.functions import Upper

INDEX = "username_unique_in_any_case"


def _index() -> models.UniqueConstraint:
    return models.UniqueConstraint(Upper("username"), name=INDEX)


def refuse_usernames_of_one_name(apps, schema_editor):
    """Stop, naming them, at users whose usernames differ only in case, before the index does.

    Which of them keeps the name, and what the others are renamed to, is the operator's
    to decide: each is someone's sign-in name. The index alone would stop `migrate` with
    a bare IntegrityError naming one name and no user.
    """
    User = apps.get_model(settings.AUTH_USER_MODEL)
    clashing = (
        User.objects.annotate(upper=Upper("username"))
        .values("upper")
        .annotate(users=models.Count("pk"))
        .filter(users__gt=1)
        .values("upper")
    )
    users = (
        User.objects.annotate(upper=Upper("username"))
        .filter(upper__in=clashing)
        .order_by("upper", "pk")
        .values_list("upper", "pk", "username")
    )
    groups = defaultdict(list)
    for upper, pk, username in users:
        groups[upper].append(f"{username!r} (id {pk})")
    if not groups:
        return
    listed = "\n".join(f"  {', '.join(names)}" for names in groups.values())
    raise CommandError(
        f"identity 0003 makes usernames unique whatever their case (the index {INDEX}), "
        f"and these users' usernames differ only in case:\n{listed}\n"
        "Rename all but one user of each line in the user admin (/admin/auth/user/), which "
        "records each rename (user.renamed); a user who signs in with a password signs in "
        "with the new name, one who signs in through the identity provider is found by "
        "their provider account whatever their name. Then migrate again "
        '(docs/operations.md, "Upgrading a live deployment").'
    )


def index_add(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    schema_editor.add_constraint(User, _index())


def index_remove(apps, schema_editor):
    User = apps.get_model(settings.AUTH_USER_MODEL)
    schema_editor.remove_constraint(User, _index())


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0002_no_guardian_anonymous_user"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(refuse_usernames_of_one_name, migrations.RunPython.noop),
        migrations.RunPython(index_add, index_remove),
    ]
