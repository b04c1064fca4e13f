"""Django's createsuperuser, with the new account recorded in the audit trail.

Its prompt asks again for a username nobody may take (config.usernames): one another user
holds in another case, or a name of the system's own, as Django's asks again for one taken
as written. Given on the command line without the prompt, such a name is refused.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import createsuperuser
from django.core.management.base import CommandError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.db.models.signals import post_save

from agents.membership import Source
from audit.actors import Actor
from config.admin import unique_violated
from config.usernames import (
    person_username_problem,
    username_reserved,
    username_reserved_message,
    username_taken,
)
from identity.services import user_created_record

ACTOR = Actor.system("manage.py createsuperuser")
TAKEN = "Error: That username is already taken, in this or another case."


class Command(createsuperuser.Command):
    help = f"{createsuperuser.Command.help} The creation is an audit event (user.created)."

    def get_input_data(self, field, message, default=None):
        """Return the answer to a prompt, or None to ask again: Django's loop asks again
        for a username it is given None for, after the error written here."""
        value = super().get_input_data(field, message, default)
        if value is None or field.name != get_user_model().USERNAME_FIELD:
            return value
        # Stored in the NFKC form create_user gives it, and checked so.
        value = get_user_model().normalize_username(value)
        problem = person_username_problem(value)
        if problem:
            self.stderr.write(f"Error: {problem}")
            return None
        return value

    def handle(self, *args, **options):
        # Django's command creates the account itself and offers no hook around it, so the
        # creation is observed, only while the command runs and inside its transaction:
        # the account and its event commit together, or neither does.
        # The account's event goes to the audit trail in the default database, and the two
        # commit together only in one transaction: another database would leave them apart.
        if options["database"] != DEFAULT_DB_ALIAS:
            raise CommandError(
                f"Error: --database: accounts and their audit trail live in the "
                f"{DEFAULT_DB_ALIAS!r} database; {options['database']!r} is not it."
            )
        model = get_user_model()
        uid = "identity.createsuperuser"

        def created(sender, instance, created, **kwargs):
            # The prompt asks again for a name of the system's own (get_input_data); one
            # Django reads itself, from DJANGO_SUPERUSER_USERNAME, is seen only here:
            # refusing it rolls the account back.
            if created and username_reserved(instance.get_username()):
                raise CommandError(f"Error: {username_reserved_message(instance.get_username())}")
            if created:
                user_created_record(
                    instance,
                    actor=ACTOR,
                    source=Source.COMMAND,
                    is_staff=instance.is_staff,
                    is_superuser=instance.is_superuser,
                )

        # Django's command checks the name as written; a name another user holds in another
        # case is taken too (config.usernames). With the prompt, Django asks again for a
        # name given on the command line that is taken, so this one is asked again too.
        username = options.get(model.USERNAME_FIELD)
        problem = username and person_username_problem(model.normalize_username(username))
        if problem and options["interactive"]:
            self.stderr.write(f"Error: {problem}")
            options[model.USERNAME_FIELD] = None
        elif username and username_reserved(username):
            raise CommandError(f"Error: {username_reserved_message(username)}")
        elif username and username_taken(username):
            raise CommandError(TAKEN)
        post_save.connect(created, sender=model, weak=False, dispatch_uid=uid)
        try:
            with transaction.atomic(using=options["database"]):
                return super().handle(*args, **options)
        except IntegrityError as error:
            if not unique_violated(error):
                raise
            raise CommandError(TAKEN) from error
        finally:
            post_save.disconnect(sender=model, dispatch_uid=uid)
