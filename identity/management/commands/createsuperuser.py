"""Django's createsuperuser, with the new account recorded in the audit trail."""

from django.contrib.auth import get_user_model
from django.contrib.auth.management.commands import createsuperuser
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save

from agents.membership import Source
from audit.actors import Actor
from config.admin import unique_violated
from config.usernames import username_reserved, username_reserved_message, username_taken
from identity.services import user_created_record

ACTOR = Actor.system("manage.py createsuperuser")
TAKEN = "Error: That username is already taken, in this or another case."


class Command(createsuperuser.Command):
    help = f"{createsuperuser.Command.help} The creation is an audit event (user.created)."

    def handle(self, *args, **options):
        # Django's command creates the account itself and offers no hook around it, so the
        # creation is observed, only while the command runs and inside its transaction:
        # the account and its event commit together, or neither does.
        model = get_user_model()
        uid = "identity.createsuperuser"

        def created(sender, instance, created, **kwargs):
            # A name typed at the prompt is seen only here: refusing it rolls the account back.
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
        # case is taken too (config.usernames), and the index on the names' upper case
        # refuses one typed at the prompt.
        username = options.get(model.USERNAME_FIELD)
        if username and username_reserved(username):
            raise CommandError(f"Error: {username_reserved_message(username)}")
        if username and username_taken(username):
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
