"""Django's createsuperuser, with the new account recorded in the audit trail."""

from django.contrib.auth.management.commands import createsuperuser

from agents.membership import Source
from audit.actors import Actor
from identity.management.recorded import UserSavesRecorded
from identity.services import user_created_record

ACTOR = Actor.system("manage.py createsuperuser")


class Command(UserSavesRecorded, createsuperuser.Command):
    help = f"{createsuperuser.Command.help} The creation is an audit event (user.created)."

    def record(self, user, created):
        if created:
            user_created_record(
                user,
                actor=ACTOR,
                source=Source.COMMAND,
                is_staff=user.is_staff,
                is_superuser=user.is_superuser,
            )
